"""Prove that the JavaScript example (``examples/node/tag.js``, onnxruntime-node)
answers like Python's onnxruntime on real held-out sentences.

The example's dependencies are installed on first use with
``npm install --ignore-scripts`` (onnxruntime-node's install script reaches
outside the package registry; its CPU binaries are inside the package).

Example::

    report = check_node_example("export/pos", limit=200)
    report["max_abs_diff"], report["label_mismatches"]      # e.g. 3e-08, 0
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from pipeline.check.results import LabelFailure, ToleranceFailure
from pipeline.errors import ParityError, RnnxError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node"


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def install_example(example: Path = EXAMPLE) -> Path:
    """``npm install`` the example once; returns the path of ``tag.js``."""
    if not (example / "tag.js").exists():
        raise RnnxError(f"{example}/tag.js is missing; the Node example ships in the rnnx source tree")
    if not (example / "node_modules" / "onnxruntime-node").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise RnnxError("npm is not installed: install Node.js with npm (e.g. apt-get install npm)")
        res = subprocess.run([npm, "install", "--ignore-scripts", "--no-package-lock", "--no-audit", "--no-fund"],
                             cwd=example, capture_output=True, text=True, timeout=900)
        if res.returncode != 0:
            raise RnnxError(f"npm install failed in {example}:\n{res.stderr[-2000:]}")
    return example / "tag.js"


def run_node(model: Path, items: list, script: Path | None = None) -> dict:
    script = script or install_example()
    res = subprocess.run([shutil.which("node") or "node", str(script), str(model)], input=json.dumps(items),
                         capture_output=True, text=True, timeout=300, encoding="utf-8")
    if res.returncode != 0:
        raise RnnxError(f"node {script.name} failed on {model}:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout)


def check_node_example(folder: Path | str, *, limit: int = 200, atol: float = 1e-6, run_path=None) -> dict:
    """Node vs Python on the first ``limit`` held-out sequences of ``folder/model.text.onnx``."""
    from pipeline.artifacts import read_json, update_json
    from pipeline.check.parity import heldout_split
    from pipeline.check.keras_side import find_run
    from pipeline.runtime.text import TextModel, pad_tokens

    folder = Path(folder)
    model_path = folder / "model.text.onnx"
    if not model_path.exists():
        raise RnnxError(f"{model_path} is missing; export with --text (the default)")
    _, split = heldout_split(find_run(read_json(folder / "export.json"), run_path, folder))
    sentences = [t for t in split.tokens if t][:limit]
    js = run_node(model_path, sentences)
    py = TextModel(model_path).run(pad_tokens(sentences))
    tagging = js["task"] == "tagging"
    mismatches, max_diff = 0, 0.0
    for row, (tokens, res) in enumerate(zip(sentences, js["results"])):
        if tagging:
            mismatches += sum(a != b for a, b in zip(res["tags"], py["tags"][row, : len(tokens)].tolist()))
            ref = py["probs"][row, : len(tokens)]
        else:
            mismatches += int(res["label"] != py["label"][row])
            ref = py["probs"][row]
        max_diff = max(max_diff, float(np.abs(np.asarray(res["probs"]) - ref).max()))
    report = {"model_file": "model.text.onnx", "runtime": "onnxruntime-node (examples/node/tag.js)",
              "sequences": len(sentences), "label_mismatches": mismatches, "max_abs_diff": max_diff,
              "atol": atol, "passed": mismatches == 0 and max_diff <= atol}
    update_json(folder / "parity.json", "examples/node", report)
    if not report["passed"]:
        failures = ([LabelFailure("examples/node", mismatches, len(sentences), "{differing} labels differ")]
                    if mismatches else [])
        if max_diff > atol:
            failures.append(ToleranceFailure("examples/node", "node - python", max_diff, atol))
        raise ParityError(f"the Node example disagrees with Python on {model_path}: {mismatches} label "
                          f"mismatches, max |diff| {max_diff:.2e} (tolerance {atol:g})", failures=tuple(failures))
    return report
