"""The Keras side of a parity check or benchmark: find the run an export came from.

``export.json`` records the run folder it was exported from; when that path has
moved, ``saved_models/<name>`` is tried, and ``--run PATH`` overrides both.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import RnnxError


def find_run(info: dict, run_path: Path | str | None = None):
    from pipeline.train.rundir import load_run

    candidates = [Path(run_path)] if run_path else [Path(info["source_run"]), Path("saved_models") / info["name"]]
    for candidate in candidates:
        if (candidate / "model.keras").exists():
            return load_run(candidate)
    tried = ", ".join(str(c) for c in candidates)
    raise RnnxError(f"the Keras run this export came from is not found (tried {tried}); pass --run PATH")


def keras_side(info: dict, run_path: Path | str | None = None):
    """``(run, ids -> probs)`` for the Keras model behind an export."""
    from pipeline.train.evaluate import keras_batch_fn

    run = find_run(info, run_path)
    return run, keras_batch_fn(run.model)
