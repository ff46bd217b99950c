"""The Keras side of a parity check or benchmark: find the run an export came from.

``export.json`` records the run folder it was exported from, relative to the export
folder (older exports: an absolute path); when that path has moved,
``saved_models/<name>`` is tried, and ``--run PATH`` overrides both.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import RnnxError


def find_run(info: dict, run_path: Path | str | None = None, folder: Path | str | None = None):
    """The run behind the export described by ``info`` (``export.json`` of ``folder``)."""
    from pipeline.train.rundir import load_run

    if run_path:
        candidates = [Path(run_path)]
    else:
        recorded = Path(info.get("source_run") or ".")
        if folder is not None and not recorded.is_absolute():
            recorded = Path(folder) / recorded
        name = info.get("source_run_name") or info.get("name", "")
        candidates = [recorded, Path("saved_models") / name]
    for candidate in candidates:
        if (candidate / "model.keras").exists():
            return load_run(candidate)
    tried = ", ".join(str(c) for c in candidates)
    raise RnnxError(f"the Keras run this export came from is not found (tried {tried}); pass --run PATH")


def keras_side(info: dict, run_path: Path | str | None = None, folder: Path | str | None = None):
    """``(run, ids -> probs)`` for the Keras model behind an export."""
    from pipeline.train.evaluate import keras_batch_fn

    run = find_run(info, run_path, folder)
    return run, keras_batch_fn(run.model)
