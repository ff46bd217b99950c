"""``rnnx export model.keras``: a user's own Keras model -> ``export/NAME/``.

The folder holds ``model.onnx`` (inputs, outputs, names and dtypes as in Keras),
``export.json`` (what was exported from which file, by which engine, the
``.keras`` file's sha256 so ``rnnx check`` can tell when it changed, and each
input's and output's name, dtype and shape) and a model card ``README.md``;
``rnnx check`` adds ``parity.json``, ``rnnx bench`` adds ``bench.json``. It is
assembled under ``NAME.partial`` and renamed when complete. An existing folder
is replaced only with ``force`` and only when it is an rnnx export.

Example::

    export_keras_file("models/forecast.keras")        # -> ExportResult(Path("export/forecast"), "fused")
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.artifacts import replace_dir, write_json, write_text
from pipeline.errors import ConfigError, DataError, ExportError
from pipeline.export.contract import IR_VERSION, OPSET

KIND = "keras-model"  # export.json "kind" of folders made from a user's .keras file
STREAM_FILE = "model.stream.onnx"


@dataclass
class KerasExport:
    folder: Path
    engine: str
    model: object  # the loaded keras.Model, for the parity check that follows


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_keras_file(path: Path | str):
    """The Keras model saved at ``path`` (``.keras``), with rnnx's own layers registered."""
    from pipeline.models import load_model

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of a model saved with model.save('NAME.keras')")
    if path.suffix != ".keras":
        raise DataError(f"{path}: expected a Keras 3 model file (.keras), saved with model.save('NAME.keras')")
    try:
        return load_model(path)
    except Exception as exc:  # Keras raises ValueError, TypeError, zipfile errors...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{path}: Keras cannot load it ({first}); custom layers must be importable and "
                        "registered with keras.saving.register_keras_serializable") from None


def tensor_specs(proto) -> tuple[list[dict], list[dict]]:
    """Name, dtype and shape of each graph input and output (symbolic dims as names)."""
    import onnx

    def spec(v):
        t = v.type.tensor_type
        return {"name": v.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name,
                "shape": [d.dim_param or d.dim_value for d in t.shape.dim]}

    return [spec(v) for v in proto.graph.input], [spec(v) for v in proto.graph.output]


def _target(out_root: Path, name: str, force: bool) -> Path:
    """``out_root/name`` if rnnx may write it (new, or an rnnx export and ``force``); its ``NAME.partial``
    staging folder, deleted before the export, must hold nothing but what an interrupted export leaves."""
    from pipeline.artifacts import check_name, check_target

    final = check_target(out_root / check_name(name), "export", force)
    staging = final.with_name(final.name + ".partial")
    ours = {"model.onnx", STREAM_FILE, "export.json", "README.md", ".rnnx-export"}
    if staging.is_symlink() or (staging.exists() and (not staging.is_dir()
                                                      or any(p.name not in ours for p in staging.iterdir()))):
        raise ConfigError(f"{staging} exists and holds files rnnx did not write; move it away or choose another "
                          "--name")
    return final


def _card(info: dict) -> str:
    rows = "\n".join(f"| {d} | `{s['name']}` | {s['dtype']} | {s['shape']} |"
                     for d, specs in (("input", info["inputs"]), ("output", info["outputs"])) for s in specs)
    return (f"# {info['name']}\n\nExported by rnnx from `{info['source']}` with the {info['engine']} engine "
            f"(opset {info['opset']}, IR version {info['ir_version']}; masks: {info['masks']}).\n\n"
            f"| | name | dtype | shape |\n|---|---|---|---|\n{rows}\n\n"
            f"`model.onnx`: {info['files']['model.onnx']:,} bytes. Run `rnnx check` on this folder to compare it "
            "with the Keras model (`parity.json`), `rnnx bench` to time it (`bench.json`).\n")


def export_keras_file(path: Path | str, *, out_root: Path | str = "export", name: str | None = None,
                      force: bool = False, engine: str = "fused", masks: str = "exact", streaming: bool = False,
                      model=None) -> KerasExport:
    """Convert the ``.keras`` file at ``path`` and write ``out_root/name`` (default: the file's stem).

    ``model``: the already-loaded model (the end-of-fit callback passes it).
    ``streaming``: also write ``model.stream.onnx`` (one chunk per call, states in and out).
    Raises :class:`~pipeline.errors.ExportError` before writing anything when the
    model cannot be converted exactly.
    """
    import onnx

    from pipeline.export.convert import to_onnx

    path = Path(path)
    model = model if model is not None else load_keras_file(path)
    final = _target(Path(out_root), name or path.stem, force)
    proto = to_onnx(model, engine=engine, masks=masks, metadata={"source_sha256": sha256_of(path)})
    stream = to_onnx(model, masks=masks, streaming=True, metadata={"source_sha256": sha256_of(path)}) \
        if streaming else None
    if not proto.graph.input:
        raise ExportError(f"{path}: the model has no inputs")
    staging = final.with_name(final.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    onnx.save(proto, staging / "model.onnx")
    if stream is not None:
        onnx.save(stream, staging / STREAM_FILE)
    inputs, outputs = tensor_specs(proto)
    info = {
        "kind": KIND,
        "name": final.name,
        "source": str(path.resolve()),
        "source_sha256": sha256_of(path),
        "engine": engine,
        "masks": masks,
        "opset": OPSET,
        "ir_version": IR_VERSION,
        "inputs": inputs,
        "outputs": outputs,
        "files": {f: (staging / f).stat().st_size for f in ("model.onnx", STREAM_FILE) if (staging / f).exists()},
        "streaming": ({"file": STREAM_FILE, "inputs": tensor_specs(stream)[0], "outputs": tensor_specs(stream)[1]}
                      if stream is not None else None),
    }
    write_json(staging / "export.json", info)
    write_text(staging / "README.md", _card(info))
    replace_dir(staging, final)
    return KerasExport(final, engine, model)
