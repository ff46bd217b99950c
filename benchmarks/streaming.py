"""Streaming vs re-running the prefix: the cost of one new token, 1 ONNX Runtime thread.

An app that tags or classifies while a person types has two ways to use an RNN
through ONNX Runtime: re-run the whole model on the growing prefix at every new
token (``model.onnx``; O(n) per token, O(n^2) per text), or push the new token
into ``model.stream.onnx`` with the state of the previous call (O(1) per token).

For unidirectional rnnx taggers and classifiers (SimpleRNN / LSTM / GRU, 100-dim
embeddings, 128 units, 20,000-word vocabulary, 12 labels; random weights: the
cost does not depend on them), at prefix lengths 10, 50 and 200 tokens:

* ``stream_us``: median time of one ``push`` of one token (the whole Python
  ``Stream.push``, state bookkeeping included);
* ``prefix_us``: median time of one run of ``model.onnx`` on the prefix of that
  length (what the re-running app pays for that token);
* ``speedup``: ``prefix_us / stream_us``;
* ``gflops`` and ``matmul_share``: the streaming step's FLOPs (input projection,
  recurrence, output layer; 2 per multiply-add) per second, and that as a share
  of a single-thread ORT ``MatMul`` of the same shape class (``[1, K] x [K, N]``,
  K = N = 512) measured in the same run.

Rounds are interleaved (stream and prefix timed in turn) and medians reported.

Run::

    .venv/bin/python benchmarks/streaming.py            # writes benchmarks/results/streaming.json
    .venv/bin/python benchmarks/streaming.py --quick    # fewer calls, one cell
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

LENGTHS = (10, 50, 200)
GATES = {"simplernn": 1, "lstm": 4, "gru": 3}
VOCAB, LABELS, EMB, UNITS = 20_000, 12, 100, 128


def sessions(task: str, cell: str):
    """(whole-sequence session, stream session) for a unidirectional rnnx model with random weights."""
    import keras

    from pipeline.export.fused import convert
    from pipeline.models import ModelConfig, build_model
    from pipeline.runtime.session import make_session

    keras.utils.set_random_seed(0)
    cfg = ModelConfig(task, cell, bidirectional=False, units=UNITS, embedding_dim=EMB, vocab_size=VOCAB,
                      num_labels=LABELS)
    model = build_model(cfg)
    out = Path("export/.bench_streaming")
    out.mkdir(parents=True, exist_ok=True)
    import onnx

    paths = {}
    for kind, streaming in (("whole", False), ("stream", True)):
        paths[kind] = out / f"{task}-{cell}-{kind}.onnx"
        onnx.save(convert(model, streaming=streaming), paths[kind])
    return make_session(paths["whole"], 1), make_session(paths["stream"], 1)


def step_flops(cell: str, task: str) -> int:
    """FLOPs of one token through the stream model (2 per multiply-add; the Gather is free)."""
    g = GATES[cell]
    recurrent = 2 * g * UNITS * (EMB + UNITS)
    head = 2 * UNITS * LABELS
    return recurrent + head


def matvec_gflops(calls: int) -> float:
    """Single-thread ORT MatMul speed for [1, 512] x [512, 512], GFLOP/s (median)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from pipeline.runtime.session import make_session

    k = n = 512
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(k, n)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])], initializer=[w])
    path = Path("export/.bench_streaming/matvec.onnx")
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    sess = make_session(path, 1)
    x = np.ones((1, k), np.float32)
    return 2 * k * n / median_seconds(lambda: sess.run(None, {"x": x}), calls) / 1e9


def median_seconds(fn, calls: int) -> float:
    from pipeline.check.bench import median_ms

    return median_ms(fn, calls) / 1e3


def measure(task: str, cell: str, *, calls: int, rounds: int, matvec: float) -> list[dict]:
    from pipeline.runtime.stream import Stream

    whole, stream_sess = sessions(task, cell)
    rng = np.random.default_rng(1)
    rows = []
    for length in LENGTHS:
        ids = rng.integers(2, VOCAB, size=(1, length))
        stream = Stream("stream", session=stream_sess)
        stream.push(ids[:, :length - 1])          # the state after the prefix
        saved = {k: v.copy() for k, v in stream.state.items()}
        token = ids[:, length - 1:]

        def push_one():
            stream.state = dict(saved)
            stream.push(token)

        def rerun():
            whole.run(None, {"ids": ids})

        s_times, p_times = [], []
        for _ in range(rounds):  # interleaved: a noisy neighbour slows both alike
            s_times.append(median_seconds(push_one, calls))
            p_times.append(median_seconds(rerun, calls))
        s, p = statistics.median(s_times), statistics.median(p_times)
        gflops = step_flops(cell, task) / s / 1e9
        rows.append({"task": task, "cell": cell, "tokens": length, "stream_us": s * 1e6, "prefix_us": p * 1e6,
                     "speedup": p / s, "stream_us_per_token": s * 1e6, "gflops": gflops,
                     "matmul_share": gflops / matvec})
    return rows


def table(rows: list[dict], matvec: float) -> str:
    lines = [f"single-thread ORT MatMul [1,512]x[512,512]: {matvec:.2f} GFLOP/s", "",
             "| model | prefix tokens | stream push (µs) | re-run prefix (µs) | speed-up | GFLOP/s | share of MatMul |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['task']} {r['cell']} | {r['tokens']} | {r['stream_us']:.1f} | {r['prefix_us']:.1f} | "
                     f"{r['speedup']:.1f}x | {r['gflops']:.2f} | {r['matmul_share']:.0%} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one model, fewer calls")
    parser.add_argument("--out", default="benchmarks/results/streaming.json")
    args = parser.parse_args(argv)
    calls, rounds = (30, 2) if args.quick else (200, 5)
    models = [("tagging", "lstm")] if args.quick else [(t, c) for t in ("tagging", "classification")
                                                       for c in ("simplernn", "lstm", "gru")]
    matvec = matvec_gflops(calls * 5)
    rows = [r for task, cell in models for r in measure(task, cell, calls=calls, rounds=rounds, matvec=matvec)]
    report = {"matvec_gflops": matvec, "rows": rows, "calls": calls, "rounds": rounds,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows, matvec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
