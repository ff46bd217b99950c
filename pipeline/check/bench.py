"""``rnnx bench``: ONNX Runtime vs Keras on the same real sentences, in one process.

For batch sizes 1, 8, 32 and short / median / long sentences of the held-out
split (its 10th, 50th and 90th length percentiles), each runner is warmed up,
then called repeatedly; latency percentiles (p50/p90/p99) and tokens per second
(real tokens, padding excluded, at the median latency) are reported.

Runners: ``ort-1t`` (ONNX Runtime, 1 thread), ``ort-all`` (all cores),
``keras-tf.function`` (one compiled call), ``keras-predict`` (``model.predict``).

Example::

    report = bench_export("export/pos")
    print(format_bench(report))
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.artifacts import package_versions, read_json, update_json
from pipeline.data.features import as_feeds, collate, ids_of

BATCH_SIZES = (1, 8, 32)
LENGTH_CLASSES = {"short": 10, "median": 50, "long": 90}


def pick_batch(lengths: list[int], target: int, size: int) -> list[int]:
    """Indices of ``size`` sequences whose lengths are closest to ``target``.

    >>> pick_batch([3, 10, 11, 30, 9], 10, 2)
    [1, 2]
    """
    order = sorted(range(len(lengths)), key=lambda i: (abs(lengths[i] - target), i))
    return sorted(order[:size])


def time_calls(fn: Callable[[], object], *, warmup: int = 3, min_calls: int = 10, budget_s: float = 0.5,
               max_calls: int = 500) -> np.ndarray:
    """Per-call wall times in seconds after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_calls and (len(times) < min_calls or time.perf_counter() < deadline):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def median_ms(fn: Callable[[], object], calls: int = 200) -> float:
    """Median wall time of ``calls`` calls of ``fn`` after one warm-up call, in milliseconds.

    >>> median_ms(lambda: sum(range(10)), 5) >= 0
    True
    """
    return float(np.median(time_calls(fn, warmup=1, min_calls=calls, budget_s=0.0, max_calls=calls)) * 1e3)


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """``(fastest wall seconds, last result)`` of ``repeats`` calls (end-to-end throughput runs).

    >>> seconds, out = best_of(lambda: sum(range(10)), 3)
    >>> out, seconds >= 0
    (45, True)
    """
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def latency_stats(times: np.ndarray, tokens: int) -> dict:
    p50, p90, p99 = (float(np.percentile(times, q)) for q in (50, 90, 99))
    return {
        "calls": int(times.size),
        "p50_ms": p50 * 1e3,
        "p90_ms": p90 * 1e3,
        "p99_ms": p99 * 1e3,
        "tokens_per_s": tokens / p50 if p50 > 0 else float("inf"),
    }


def runners(folder: Path, run, model_file: str, keras: bool = True) -> dict[str, Callable[[np.ndarray], object]]:
    from pipeline.runtime.session import make_session

    out: dict[str, Callable] = {}
    for label, threads in (("ort-1t", 1), ("ort-all", None)):
        sess = make_session(folder / model_file, threads)
        names = [i.name for i in sess.get_inputs()]
        if len(names) == 1:
            out[label] = lambda ids, s=sess, n=names[0]: s.run(None, {n: ids})
        else:  # every output (a CRF tagger's decoded tags included) is part of the timed call
            out[label] = lambda x, s=sess: s.run(None, as_feeds(x))
    if keras:
        from pipeline.train.evaluate import keras_batch_fn

        out["keras-tf.function"] = keras_batch_fn(run.model)
        out["keras-predict"] = lambda x: run.model.predict(x, batch_size=len(ids_of(x)), verbose=0)
    return out


def bench_export(folder: Path | str, *, model_file: str = "model.onnx", budget_s: float = 0.5,
                 batch_sizes=BATCH_SIZES, run_path=None, keras: bool = True, write: bool = True) -> dict:
    from pipeline.check.parity import heldout_split
    from pipeline.check.keras_side import find_run

    folder = Path(folder)
    info = read_json(folder / "export.json")
    run = find_run(info, run_path, folder)
    _, split = heldout_split(run)
    encoded = run.encoder.encode_all(split.tokens)
    lengths = [len(s) for s in encoded]
    fns = runners(folder, run, model_file, keras)
    rows = []
    for batch in batch_sizes:
        for length_name, pct in LENGTH_CLASSES.items():
            target = int(np.percentile(lengths, pct))
            idx = pick_batch(lengths, target, batch)
            x = collate([encoded[i] for i in idx])
            tokens = int(sum(lengths[i] for i in idx))
            row = {"batch": batch, "length": length_name, "tokens_per_row": target,
                   "padded_shape": list(ids_of(x).shape)}
            for label, fn in fns.items():
                row[label] = latency_stats(time_calls(lambda: fn(x), budget_s=budget_s), tokens)
            rows.append(row)
    report = {
        "model_file": model_file,
        "engine": info.get("engine"),
        "task": info["task"],
        "cpu_count": os.cpu_count(),
        "versions": package_versions(("onnxruntime", "tensorflow", "keras")),
        "rows": rows,
        "speedup_ort1t_vs_tf_function_p50": _speedups(rows, "ort-1t", "keras-tf.function"),
    }
    if write:
        update_json(folder / "bench.json", model_file, report)
    return report


def _speedups(rows: list[dict], fast: str, slow: str) -> dict[str, float]:
    out = {}
    for row in rows:
        if fast in row and slow in row:
            out[f"b{row['batch']}-{row['length']}"] = row[slow]["p50_ms"] / row[fast]["p50_ms"]
    return out


def format_bench(report: dict) -> str:
    """A plain-text table: p50 latency (ms) per runner, and ORT-1t tokens/s."""
    runner_names = [k for k in report["rows"][0] if isinstance(report["rows"][0][k], dict)]
    head = f"{'batch':>5} {'length':>8} {'tok/row':>7} " + " ".join(f"{n:>18}" for n in runner_names)
    lines = [f"latency p50 / p99 in ms ({report['model_file']}, engine {report['engine']})", head]
    for row in report["rows"]:
        cells = " ".join(f"{row[n]['p50_ms']:>8.2f} /{row[n]['p99_ms']:>8.2f}" for n in runner_names)
        lines.append(f"{row['batch']:>5} {row['length']:>8} {row['tokens_per_row']:>7} {cells}")
    if "ort-1t" in runner_names:
        lines.append("ORT 1-thread tokens/s: " + ", ".join(
            f"b{r['batch']}-{r['length']} {r['ort-1t']['tokens_per_s']:,.0f}" for r in report["rows"]))
    return "\n".join(lines)
