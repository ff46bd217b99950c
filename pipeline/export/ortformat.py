"""``rnnx export --ort``: the ORT format (``.ort``) for ONNX Runtime Mobile and reduced builds.

:func:`convert_to_ort` runs ``onnxruntime.tools.convert_onnx_models_to_ort``
(optimisation style "Fixed": the graph is optimised once, here, and saved) on the
export's ONNX files, writing ``model.ort`` (and ``model.text.ort``, ... for the
other variants present) plus ``required_operators.config``: the operator list a
reduced ONNX Runtime build needs (``build.sh --include_ops_by_config``) to run
every converted model. Each ``.ort`` is loaded back and must give the ``.onnx``
file's outputs (probabilities within :data:`ORT_ATOL`, identical labels and ids).

:func:`mobile_usability` runs ONNX Runtime's mobile usability checker
(``onnxruntime.tools.check_onnx_model_mobile_usability``) and keeps its verdict:
whether NNAPI (Android) or CoreML (iOS) would take the model, or the CPU
execution provider is the right choice.

The tools run in a child process: an ONNX Runtime optimiser failure can abort a
process, and they print a lot. A ``.ort`` file is read by ONNX Runtime builds of
the version that wrote it or newer (the ORT format is backward compatible only).

Example::

    report = convert_to_ort("export/pos")
    report["files"]["model.ort"]["max_abs_diff"]    # 0.0
    report["mobile_usability"]["model.onnx"]["verdict"]
    # 'For optimal performance the model should be used with the CPU EP.'
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pipeline.errors import ExportError, ParityError

CONFIG_FILE = "required_operators.config"
ORT_ATOL = 1e-6
DEFAULT_SOURCES = ("model.onnx", "model.text.onnx", "model.rawtext.onnx", "model.int8.onnx", "model.int8.text.onnx")
TOOL_TIMEOUT_S = 600


def ort_name(onnx_file: str) -> str:
    """The ``.ort`` file written for an ``.onnx`` file.

    >>> ort_name("model.text.onnx")
    'model.text.ort'
    """
    return onnx_file[: -len(".onnx")] + ".ort" if onnx_file.endswith(".onnx") else onnx_file + ".ort"


def _run_tool(args: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ExportError(f"{what} took longer than {TOOL_TIMEOUT_S} s; try again without --ort") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-1500:]
        raise ExportError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result


def convert_to_ort(folder: Path | str, *, sources: tuple[str, ...] | None = None, check: bool = True,
                   usability: bool = True) -> dict:
    """Convert the export's ONNX files to ``.ort`` plus the reduced-build operator config.

    ``sources`` defaults to every file of :data:`DEFAULT_SOURCES` that exists.
    With ``check`` each ``.ort`` is compared with its ``.onnx`` (raises
    :class:`~pipeline.errors.ParityError` on a difference); with ``usability`` the
    mobile usability checker's verdict on the id model (and the text model) is added.
    """
    folder = Path(folder)
    if sources is None:
        sources = tuple(f for f in DEFAULT_SOURCES if (folder / f).exists())
    missing = [f for f in sources if not (folder / f).exists()]
    if missing or not sources:
        raise ExportError(f"{folder}: {', '.join(missing) or 'no ONNX model'} missing; run `rnnx export` first")
    with tempfile.TemporaryDirectory(prefix=".ort-", dir=folder) as tmp:
        src_dir, out_dir = Path(tmp) / "in", Path(tmp) / "out"
        src_dir.mkdir()
        for name in sources:
            shutil.copy2(folder / name, src_dir / name)
        _run_tool(["onnxruntime.tools.convert_onnx_models_to_ort", str(src_dir), "--output_dir", str(out_dir),
                   "--optimization_style", "Fixed"], "onnxruntime.tools.convert_onnx_models_to_ort")
        config = out_dir / CONFIG_FILE
        if not config.exists():
            raise ExportError(f"the ORT converter wrote no {CONFIG_FILE}; check the onnxruntime installation")
        # the tool records absolute temporary paths in its comments: keep the file names only
        text = re.sub(r"^# - .*/([^/\n]+)$", r"# - \1", config.read_text(encoding="utf-8"), flags=re.M)
        (folder / CONFIG_FILE).write_text(text, encoding="utf-8")
        for name in sources:
            produced = out_dir / ort_name(name)
            if not produced.exists():
                raise ExportError(f"the ORT converter did not write {ort_name(name)}")
            shutil.move(str(produced), folder / ort_name(name))
    import onnxruntime

    report: dict = {
        "tool": "onnxruntime.tools.convert_onnx_models_to_ort --optimization_style Fixed",
        "onnxruntime": onnxruntime.__version__,
        "loads_in": f"ONNX Runtime (full, mobile or reduced builds) {onnxruntime.__version__} or newer",
        "required_operators_config": CONFIG_FILE,
        "operators": parse_config(folder / CONFIG_FILE),
        "files": {},
    }
    for name in sources:
        entry = {"source": name, "bytes": (folder / ort_name(name)).stat().st_size}
        if check:
            entry.update(compare_ort(folder, name))
        report["files"][ort_name(name)] = entry
    if usability:
        report["mobile_usability"] = {
            name: mobile_usability(folder / name) for name in ("model.onnx", "model.text.onnx") if name in sources
        }
    if check:
        bad = {k: v for k, v in report["files"].items() if not v["passed"]}
        if bad:
            raise ParityError(f"{folder}: ORT-format models differ from their ONNX files: " +
                              "; ".join(f"{k}: max diff {v['max_abs_diff']:.3g}, label mismatches "
                                        f"{v['label_mismatches']}" for k, v in bad.items()))
    return report


def parse_config(path: Path) -> dict[str, list[str]]:
    """``{"ai.onnx;13": ["ArgMax", ...], ...}`` from a required-operators config file."""
    ops: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        domain, version, names = line.split(";", 2)
        ops[f"{domain};{version}"] = names.split(",")
    return ops


def _sample_inputs(folder: Path, kind: str, seed: int = 0) -> list[dict]:
    """Feeds of padded batches (batch 1, 8, 32; ragged lengths up to 40) of real vocabulary words.

    ``kind`` is the model's first input: ``ids`` (word ids, and the words' characters for
    a character-CNN model, encoded as :mod:`pipeline.runtime` encodes them), ``tokens``
    (strings) or ``text`` (one string per row).
    """
    from pipeline.artifacts import read_json
    from pipeline.runtime.encoding import encode_tokens
    from pipeline.runtime.session import read_encoder

    words = read_json(folder / "vocab.json")["words"]
    rng = np.random.default_rng(seed)
    out = []
    for batch in (1, 8, 32):
        rows = [rng.integers(2, len(words), size=int(n)) for n in rng.integers(1, 41, size=batch)]
        rows[0] = rows[0][:1]  # a length-1 row in every batch
        texts = [[words[i] for i in r] for r in rows]
        if kind == "ids":
            encoded = encode_tokens(read_encoder(folder), texts)
            x = encoded.collate(encoded.sentences)
            out.append(x if isinstance(x, dict) else {"ids": x})
        elif kind == "text":
            out.append({kind: np.asarray([" ".join(t) for t in texts], dtype=object)})
        else:
            width = max(len(t) for t in texts)
            out.append({kind: np.asarray([t + [""] * (width - len(t)) for t in texts], dtype=object)})
    return out


def compare_ort(folder: Path, onnx_file: str) -> dict:
    """Run ``onnx_file`` and its ``.ort`` on the same inputs; max probability difference, label mismatches."""
    from pipeline.runtime.session import make_session

    a = make_session(folder / onnx_file)
    b = make_session(folder / ort_name(onnx_file))
    input_name = a.get_inputs()[0].name
    kind = {"ids": "ids", "tokens": "tokens", "text": "text"}.get(input_name, "ids")
    max_diff, mismatches = 0.0, 0
    for feeds in _sample_inputs(folder, kind):
        feeds = {i.name: feeds[i.name] for i in a.get_inputs()}
        ra = dict(zip([o.name for o in a.get_outputs()], a.run(None, feeds)))
        rb = dict(zip([o.name for o in b.get_outputs()], b.run(None, feeds)))
        for key, va in ra.items():
            vb = rb[key]
            if va.dtype.kind == "f":
                max_diff = max(max_diff, float(np.abs(va.astype(np.float64) - vb).max()) if va.size else 0.0)
            else:
                mismatches += int((va != vb).sum())
        if "probs" in ra and ra["probs"].size:
            mismatches += int((ra["probs"].argmax(-1) != rb["probs"].argmax(-1)).sum())
    return {"max_abs_diff": max_diff, "label_mismatches": mismatches, "atol": ORT_ATOL,
            "passed": max_diff <= ORT_ATOL and mismatches == 0}


def mobile_usability(model_path: Path) -> dict:
    """ONNX Runtime's mobile usability checker on ``model_path``: verdict lines and whether NNAPI/CoreML fit."""
    result = _run_tool(["onnxruntime.tools.check_onnx_model_mobile_usability", str(model_path)],
                       "onnxruntime.tools.check_onnx_model_mobile_usability")
    lines = [re.sub(r"^\w+:\s+", "", line).strip() for line in (result.stderr + result.stdout).splitlines()]
    lines = [line for line in lines if line]
    keep = [line for line in lines if line.startswith("Model should perform well with")]
    final = [line for line in lines if "should be used with the CPU EP" in line or "recommended to compare" in line]
    verdict = final[-1] if final else (keep[-1] if keep else "no verdict printed")
    return {
        "verdict": verdict,
        "nnapi_or_coreml_recommended": any(line.endswith("YES") for line in keep),
        "details": keep,
    }
