"""Prove that Node (``examples/node/stream_tag.mjs``) streams tags like Python's ``TagStream``.

Each held-out sentence is pushed one token at a time from zero states, in Node
(onnxruntime-node) and in Python (:class:`pipeline.runtime.stream.TagStream`);
the tags must be identical and the probabilities of the chosen tags equal to
``atol``. The report goes into ``parity.json`` under ``examples/node stream``.

Example::

    report = check_node_stream("export/pos-uni", sentences)
    report["tag_mismatches"], report["node_per_token_ms"]
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from pipeline.check.node import EXAMPLE, install_example
from pipeline.check.results import LabelFailure, ToleranceFailure, raise_failures
from pipeline.errors import RnnxError

SCRIPT = EXAMPLE / "stream_tag.mjs"


def run_node_stream(folder: Path, sentences: list[list[str]]) -> dict:
    install_example()
    res = subprocess.run([shutil.which("node") or "node", str(SCRIPT), str(folder)], input=json.dumps(sentences),
                         capture_output=True, text=True, timeout=600, encoding="utf-8")
    if res.returncode != 0:
        raise RnnxError(f"node {SCRIPT.name} failed on {folder}:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout)


def python_stream(folder: Path, sentences: list[list[str]]) -> tuple[list[list[tuple[str, float]]], list[float]]:
    """Python's ``TagStream``, one token per push: (tag, its probability) per token, and per-push seconds."""
    import time

    from pipeline.runtime.stream import TagStream

    stream = TagStream(folder)
    out, times = [], []
    for tokens in sentences:
        stream.reset()
        row = []
        for token in tokens:
            start = time.perf_counter()
            ((_, tag, prob),) = stream.push([token], with_probs=True)
            times.append(time.perf_counter() - start)
            row.append((tag, prob))
        out.append(row)
    return out, times


def check_node_stream(folder: Path | str, sentences: list[list[str]], *, atol: float = 1e-5) -> dict:
    """Node vs Python, token by token, on ``sentences``; raises ParityError when they differ."""
    from pipeline.artifacts import update_json

    folder = Path(folder)
    js = run_node_stream(folder, sentences)
    py, times = python_stream(folder, sentences)
    mismatches, max_diff = 0, 0.0
    for py_row, res in zip(py, js["results"]):
        for (tag, prob), js_tag, js_prob in zip(py_row, res["tags"], res["probs"]):
            mismatches += int(tag != js_tag)
            max_diff = max(max_diff, abs(prob - js_prob))
    times.sort()
    report = {"runtime": "onnxruntime-node (examples/node/stream_tag.mjs)", "sentences": len(sentences),
              "tokens": sum(len(s) for s in sentences), "tag_mismatches": mismatches, "max_abs_diff": max_diff,
              "atol": atol, "node_per_token_ms": js["per_token_ms"],
              "python_per_token_ms": times[len(times) // 2] * 1e3 if times else None,
              "passed": mismatches == 0 and max_diff <= atol}
    update_json(folder / "parity.json", "examples/node stream", report)
    failures = ([LabelFailure("examples/node stream", mismatches, report["tokens"], "{differing} of {total} tags "
                              "differ")] if mismatches else [])
    if max_diff > atol:
        failures.append(ToleranceFailure("examples/node stream", "node - python probability", max_diff, atol))
    raise_failures(f"{folder}: Node's streamed tags differ from Python's", failures)
    return report
