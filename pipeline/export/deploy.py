"""Everything an application needs beside ``model.onnx``: one call after export, one after check.

=========================  =================================================  ==============
file                       what                                               written when
=========================  =================================================  ==============
``model.text.onnx``        tokens (strings) in, labels out; vocabulary inside  ``text=True``
``model.rawtext.onnx``     classifiers: one string per text, split on spaces   ``text=True``
``model.int8.onnx``        dynamic int8 quantization of ``model.onnx``         ``quantize="int8"``
``model.int8.text.onnx``   the text model around the int8 model                both
``*.ort``                  ORT format of each of the above                     ``ort=True``
``required_operators.config``  operators a reduced ONNX Runtime build needs    ``ort=True``
``deploy.json``            what was written: opsets, IR, sizes, inputs/outputs  always
=========================  =================================================  ==============

:func:`add_deploy_artifacts` writes them (call it on the export folder before it
is moved into place, so an interrupted export never looks complete);
:func:`pipeline.check.verify.check_deploy_artifacts` proves them (``rnnx check``): the
text models answer exactly like the id models on the held-out split, int8 loses at
most 0.5 accuracy points; :func:`pipeline.check.verify.bench_deploy_artifacts` times
int8 against float32 (``rnnx bench``).

Example::

    add_deploy_artifacts("export/pos", text=True, quantize="int8", ort=True)
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ConfigError

QUANTIZE_CHOICES = (None, "int8")


def add_deploy_artifacts(folder: Path | str, *, text: bool = True, quantize: str | None = None,
                         ort: bool = False) -> dict:
    """Write the deployment variants of ``folder/model.onnx`` and record them in ``deploy.json``."""
    import onnx

    from pipeline.artifacts import read_json, write_json
    from pipeline.export.textmodel import describe, write_text_models

    if quantize not in QUANTIZE_CHOICES:
        raise ConfigError(f"--quantize {quantize!r} is not supported; choose int8 (or leave it out for float32)")
    folder = Path(folder)
    if not (folder / "model.onnx").exists():
        raise ConfigError(f"{folder} holds no model.onnx; run `rnnx export saved_models/NAME` first")
    report: dict = {"options": {"text": text, "quantize": quantize, "ort": ort}, "artifacts": {}}
    artifacts = report["artifacts"]
    artifacts["model.onnx"] = describe(onnx.load(folder / "model.onnx", load_external_data=False),
                                       folder / "model.onnx")
    if text:
        artifacts.update(write_text_models(folder))
    if quantize == "int8":
        from pipeline.export.quantize import quantize_model

        report["quantization"] = quantize_model(folder)
        artifacts["model.int8.onnx"] = describe(onnx.load(folder / "model.int8.onnx"), folder / "model.int8.onnx")
        if text:
            artifacts.update(write_text_models(folder, source="model.int8.onnx", raw=False))
    if ort:
        from pipeline.export.ortformat import convert_to_ort

        report["ort"] = convert_to_ort(folder, sources=tuple(artifacts))
        for name, entry in report["ort"]["files"].items():
            artifacts[name] = {**artifacts[entry["source"]], "bytes": entry["bytes"], "format": "ort",
                               "min_onnxruntime": report["ort"]["onnxruntime"]}
    for name, entry in artifacts.items():
        entry.setdefault("format", "onnx")
        entry["role"] = role(name)
    path = folder / "deploy.json"
    previous = read_json(path) if path.exists() else {}
    kept = {k: v for k, v in previous.get("artifacts", {}).items() if (folder / k).exists() and k not in artifacts}
    report["artifacts"] = {**kept, **artifacts}
    for key in ("quantization", "ort"):
        if key not in report and key in previous and any((folder / f).exists() for f in _files_of(key, previous)):
            report[key] = previous[key]
    write_json(path, report)
    return report


def _files_of(key: str, previous: dict) -> list[str]:
    if key == "quantization":
        return [previous[key].get("file", "model.int8.onnx")]
    return list(previous[key].get("files", {}))


def role(name: str) -> str:
    """A one-line description of an artifact, from its file name.

    >>> role("model.int8.text.ort")
    'int8 weights; input: tokens (strings); ORT format'
    """
    parts = []
    parts.append("int8 weights" if ".int8." in name else "float32")
    if ".rawtext." in name:
        parts.append("input: raw text (one string per text)")
    elif ".text." in name:
        parts.append("input: tokens (strings)")
    else:
        parts.append("input: token ids")
    if name.endswith(".ort"):
        parts.append("ORT format")
    return "; ".join(parts)
