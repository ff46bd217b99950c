"""The int8 accuracy gate: ``model.int8.onnx`` against ``model.onnx`` on the held-out split, and its latency.

An int8 model is not expected to match float32 to 1e-4, so
:func:`check_quantized` compares **accuracy** on the held-out split: it fails
when int8 loses more than :data:`MAX_DROP_POINTS` accuracy points against the
float model, and reports how often the two predict the same label.
:func:`bench_quantized` times both on ONNX Runtime with 1 thread, batch 1 and 32.
:func:`pipeline.export.quantize.quantize_model` writes the int8 model.

Example::

    check_quantized("export/pos")["accuracy"]   # {"float32": 0.962, "int8": 0.960}
    bench_quantized("export/pos")["rows"][0]["int8-ort-1t"]["p50_ms"]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.check.results import AccuracyDropFailure, raise_failures
from pipeline.export.quantize import INT8_FILE
from pipeline.scoring.accuracy import accuracy
from pipeline.scoring.decode import argmax_labels

MAX_DROP_POINTS = 0.5


def _predict(model, tokens, task: str) -> tuple[list[np.ndarray], list]:
    """Probabilities and predicted labels of ``model`` (an ExportedModel) for token lists.

    A CRF tagger's labels are its decoded ``tags``; every other model's are the argmax of ``probs``.
    """
    from pipeline.runtime.batches import run_batched
    from pipeline.runtime.encoding import encode_tokens
    from pipeline.scoring.decode import path_labels

    rows = encode_tokens(model.encoder, tokens)
    probs = run_batched(model.run, rows.sentences, task=task, batch_size=32, collate=rows.collate)
    names = model.labels.names
    if model.has_tags:
        paths = run_batched(model.run_tags, rows.sentences, task=task, batch_size=32, collate=rows.collate)
        return probs, path_labels(paths, names)
    return probs, argmax_labels(probs, names, task)


def check_quantized(folder: Path | str, *, int8_file: str = INT8_FILE, float_file: str = "model.onnx",
                    max_drop_points: float = MAX_DROP_POINTS, run_path=None, limit: int | None = None,
                    write: bool = True) -> dict:
    """Held-out accuracy of ``int8_file`` against ``float_file``; fails beyond ``max_drop_points``.

    Writes ``parity.json[int8_file]``; raises :class:`~pipeline.errors.ParityError` on failure.
    """
    from pipeline.artifacts import read_json, update_json
    from pipeline.check.keras_side import find_run
    from pipeline.check.parity import heldout_split
    from pipeline.runtime.session import ExportedModel

    folder = Path(folder)
    info = read_json(folder / "export.json")
    task = info["task"]
    split_name, split = heldout_split(find_run(info, run_path, folder))
    if limit:
        split = split.head(limit)
    keep = [i for i, t in enumerate(split.tokens) if len(t) > 0]
    split = split.subset(keep)
    ref_model = ExportedModel(folder, model_file=float_file)
    q_model = ExportedModel(folder, model_file=int8_file)
    out = {}
    for label, model in (("float32", ref_model), ("int8", q_model)):
        probs, pred = _predict(model, split.tokens, task)
        out[label] = (probs, accuracy(split.labels, pred, task=task), pred)
    (p_f, acc_f, pred_f), (p_q, acc_q, pred_q) = out["float32"], out["int8"]
    flat_f = [x for p in pred_f for x in p] if task == "tagging" else pred_f
    flat_q = [x for p in pred_q for x in p] if task == "tagging" else pred_q
    agreement = sum(a == b for a, b in zip(flat_f, flat_q)) / max(len(flat_f), 1)
    max_diff = max((float(np.abs(a - b).max()) for a, b in zip(p_f, p_q) if a.size), default=0.0)
    drop = (acc_f - acc_q) * 100
    failures = []
    if drop > max_drop_points:
        failures.append(AccuracyDropFailure("", acc_f, acc_q, drop, max_drop_points))
    report = {
        "model_file": int8_file, "reference": float_file, "task": task, "kind": "accuracy (int8)",
        "heldout": {"split": f"{split_name}: {split.source}", "sequences": len(split), "positions": len(flat_f)},
        "accuracy": {"float32": acc_f, "int8": acc_q}, "accuracy_drop_points": drop,
        "max_drop_points": max_drop_points, "label_agreement": agreement, "max_abs_prob_diff": max_diff,
        "passed": not failures, "failures": [str(f) for f in failures],
    }
    if write:
        update_json(folder / "parity.json", int8_file, report)
    raise_failures(f"{folder / int8_file}", failures, sep="; ")
    return report


def bench_quantized(folder: Path | str, *, int8_file: str = INT8_FILE, float_file: str = "model.onnx",
                    batch_sizes=(1, 32), budget_s: float = 0.5, run_path=None, write: bool = True) -> dict:
    """Latency (1 ORT thread) and size of int8 vs float32 on median-length held-out sentences.

    The report has the shape of :func:`pipeline.check.bench.bench_export`'s (``rows``
    with one entry per runner), so :func:`~pipeline.check.bench.format_bench` prints it;
    it is stored as ``bench.json[int8_file]``.
    """
    from pipeline.artifacts import read_json, update_json
    from pipeline.check.bench import latency_stats, pick_batch, time_calls
    from pipeline.check.keras_side import find_run
    from pipeline.check.parity import heldout_split
    from pipeline.runtime.encoding import encode_tokens
    from pipeline.runtime.session import ExportedModel

    folder = Path(folder)
    info = read_json(folder / "export.json")
    _, split = heldout_split(find_run(info, run_path, folder))
    models = {"float32-ort-1t": ExportedModel(folder, model_file=float_file, threads=1),
              "int8-ort-1t": ExportedModel(folder, model_file=int8_file, threads=1)}
    encoded = encode_tokens(models["float32-ort-1t"].encoder, split.tokens)
    lengths = [len(s) for s in encoded.sentences]
    target = int(np.percentile(lengths, 50))
    rows = []
    for batch in batch_sizes:
        idx = pick_batch(lengths, target, batch)
        x = encoded.collate([encoded.sentences[i] for i in idx])
        tokens = int(sum(lengths[i] for i in idx))
        output = "tags" if models["float32-ort-1t"].has_tags else "probs"
        row = {"batch": batch, "length": "median", "tokens_per_row": target,
               "padded_shape": list((x["ids"] if isinstance(x, dict) else x).shape)}
        for label, model in models.items():
            row[label] = latency_stats(time_calls(lambda m=model, o=output, x=x: m.run(x, output=o), budget_s=budget_s),
                                       tokens)
        row["int8_speedup_p50"] = row["float32-ort-1t"]["p50_ms"] / row["int8-ort-1t"]["p50_ms"]
        rows.append(row)
    sizes = {float_file: (folder / float_file).stat().st_size, int8_file: (folder / int8_file).stat().st_size}
    report = {
        "model_file": int8_file, "reference": float_file, "engine": info.get("engine"), "task": info["task"],
        "cpu_count": os.cpu_count(), "threads": 1, "rows": rows, "bytes": sizes,
        "size_ratio": sizes[int8_file] / sizes[float_file],
    }
    if write:
        update_json(folder / "bench.json", int8_file, report)
    return report
