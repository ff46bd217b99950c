"""Fused exporter vs tf2onnx vs a Keras ``tf.function`` call, in one process.

For the 6 taggers and 6 classifiers (SimpleRNN/LSTM/GRU, uni- and bidirectional,
built by :func:`pipeline.models.build_model` with realistic sizes and random
weights), at batch 1 and 32 with 25 tokens per row:

* ONNX Runtime with 1 intra-op and 1 inter-op thread, sequential execution;
* TensorFlow with 1 intra-op and 1 inter-op thread for the Keras call;
* warm-up, then interleaved rounds (each engine timed in turn, so a noisy
  neighbour hits all three alike); the reported time is the median of the
  per-round medians.

FLOP/s: the model's multiply-adds (recurrent gates over every step, input
projections, the output layer; 2 FLOPs each) divided by the time, and as a
share of single-thread matrix-multiply speed measured in the same run (an ORT
``MatMul`` session, 1 thread, 512x512x512).

Run::

    .venv/bin/python benchmarks/fused_vs_tf2onnx.py --out export/bench_fused.json
    .venv/bin/python benchmarks/fused_vs_tf2onnx.py --quick     # 1 variant per task, fewer rounds

Prints a markdown table; ``--out`` writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")  # CPU timings; tf2onnx cannot convert CudnnRNNV3 anyway

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

VARIANTS = [(task, cell, bi) for task in ("tagging", "classification")
            for cell in ("simplernn", "lstm", "gru") for bi in (False, True)]
GATES = {"simplernn": 1, "lstm": 4, "gru": 3}


def variant_name(task: str, cell: str, bi: bool) -> str:
    titles = {"simplernn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
    return f"{'Bi' if bi else ''}{titles[cell]} {'tagger' if task == 'tagging' else 'classifier'}"


def model_flops(task, cell, bi, batch, tokens, emb, units, labels) -> float:
    """2 x multiply-adds: input and recurrent projections of every gate at every step, plus the output layer."""
    dirs = 2 if bi else 1
    gates = GATES[cell]
    recurrent = 2 * gates * units * (emb + units) * dirs * tokens * batch
    out_rows = batch * tokens if task == "tagging" else batch
    return float(recurrent + 2 * dirs * units * labels * out_rows)


def ort_session(proto_bytes: bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(proto_bytes, so, providers=["CPUExecutionProvider"])


def matmul_gflops(n: int = 512, rounds: int = 7, per: int = 10) -> float:
    """Single-thread ORT MatMul speed (GFLOP/s) on an n x n x n product."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    b = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "B")
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "mm",
                              [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("C", TensorProto.FLOAT, [n, n])], [b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = ort_session(model.SerializeToString())
    a = rng.standard_normal((n, n)).astype(np.float32)
    times = interleaved({"mm": lambda: sess.run(None, {"A": a})}, rounds=rounds, per=per)["mm"]
    return 2 * n ** 3 / times["median_s"] / 1e9


def interleaved(fns: dict, *, rounds: int, per: int, warmup: int = 10) -> dict:
    """Time each callable in turn, ``rounds`` times ``per`` calls; median of round medians."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    per_round = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            ts = []
            for _ in range(per):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            per_round[k].append(statistics.median(ts))
    return {k: {"median_s": statistics.median(v), "min_round_s": min(v), "rounds": len(v), "calls_per_round": per}
            for k, v in per_round.items()}


def tf2onnx_proto(model):
    """tf2onnx through rnnx's reference exporter (or directly when that module is absent)."""
    try:
        from pipeline.export.tf2onnx_export import export_tf2onnx
    except ImportError:
        export_tf2onnx = None
    if export_tf2onnx is not None:
        return export_tf2onnx(model)
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(lambda ids: model(ids, training=False))
    spec = [tf.TensorSpec([None, None], tf.int64, name="ids")]
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=17)
    return proto


def count_ops(proto) -> dict:
    ops: dict[str, int] = {}

    def walk(graph):
        for node in graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
            for attr in node.attribute:
                if attr.g and attr.g.node:
                    walk(attr.g)
    walk(proto.graph)
    return ops


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--tokens", type=int, default=25)
    ap.add_argument("--vocab", type=int, default=20000)
    ap.add_argument("--emb", type=int, default=100)
    ap.add_argument("--units", type=int, default=128)
    ap.add_argument("--tag-labels", type=int, default=12, help="labels of the taggers (12 universal tags)")
    ap.add_argument("--class-labels", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--per", type=int, default=20, help="calls per round per engine")
    ap.add_argument("--quick", action="store_true", help="LSTM and SimpleRNN taggers only, fewer rounds")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="run only variants whose name contains one of these (e.g. 'BiLSTM' 'GRU tagger')")
    args = ap.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import onnxruntime as ort
    import tf2onnx

    from pipeline.export.contract import finalize
    from pipeline.export.fused import convert
    from pipeline.models import ModelConfig, build_model

    variants = VARIANTS
    if args.quick:
        variants = [("tagging", "simplernn", False), ("tagging", "lstm", True)]
        args.rounds, args.per = 5, 10
    if args.only:
        variants = [v for v in variants if any(s in variant_name(*v) for s in args.only)]

    peak = matmul_gflops()
    print(f"single-thread ORT MatMul 512^3: {peak:.1f} GFLOP/s", flush=True)
    rng = np.random.default_rng(0)
    rows = []
    for task, cell, bi in variants:
        labels = args.tag_labels if task == "tagging" else args.class_labels
        keras.utils.set_random_seed(0)
        cfg = ModelConfig(task, cell, bidirectional=bi, units=args.units, embedding_dim=args.emb,
                          vocab_size=args.vocab, num_labels=labels)
        model = build_model(cfg)
        t0 = time.perf_counter()
        fused = finalize(convert(model), {"task": task, "engine": "fused"})
        fused_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        reference = tf2onnx_proto(model)
        tf2onnx_s = time.perf_counter() - t0
        sessions = {"fused": ort_session(fused.SerializeToString()),
                    "tf2onnx": ort_session(reference.SerializeToString())}
        keras_fn = tf.function(lambda x: model(x, training=False))
        for batch in args.batches:
            ids = rng.integers(2, args.vocab, size=(batch, args.tokens), dtype=np.int64)
            ids_tf = tf.constant(ids)
            ref_name = sessions["tf2onnx"].get_inputs()[0].name
            want = np.asarray(keras_fn(ids_tf))
            diffs = {"fused": float(np.abs(sessions["fused"].run(None, {"ids": ids})[0] - want).max()),
                     "tf2onnx": float(np.abs(sessions["tf2onnx"].run(None, {ref_name: ids})[0] - want).max())}
            times = interleaved({
                "keras": lambda: keras_fn(ids_tf).numpy(),
                "tf2onnx": lambda: sessions["tf2onnx"].run(None, {ref_name: ids}),
                "fused": lambda: sessions["fused"].run(None, {"ids": ids}),
            }, rounds=args.rounds, per=args.per)
            flops = model_flops(task, cell, bi, batch, args.tokens, args.emb, args.units, labels)
            med = {k: v["median_s"] for k, v in times.items()}
            row = {
                "variant": variant_name(task, cell, bi), "task": task, "cell": cell, "bidirectional": bi,
                "batch": batch, "tokens": args.tokens, "ms": {k: v * 1e3 for k, v in med.items()},
                "timing": times, "max_abs_diff_vs_keras": diffs,
                "speedup_vs_tf2onnx": med["tf2onnx"] / med["fused"], "speedup_vs_keras": med["keras"] / med["fused"],
                "flops": flops, "gflops": {k: flops / v / 1e9 for k, v in med.items()},
                "share_of_matmul": {k: flops / v / 1e9 / peak for k, v in med.items()},
                "export_s": {"fused": fused_s, "tf2onnx": tf2onnx_s},
                "ops": {"fused": count_ops(fused), "tf2onnx": count_ops(reference)},
            }
            rows.append(row)
            print(f"{row['variant']:<24} b={batch:<3} keras {row['ms']['keras']:7.3f} ms  tf2onnx "
                  f"{row['ms']['tf2onnx']:7.3f} ms  fused {row['ms']['fused']:7.3f} ms  "
                  f"x{row['speedup_vs_tf2onnx']:.2f} vs tf2onnx  x{row['speedup_vs_keras']:.2f} vs keras", flush=True)

    table = markdown(rows, peak)
    print()
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "matmul_gflops_1thread": peak,
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "versions": {"onnxruntime": ort.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                         "tf2onnx": tf2onnx.__version__, "python": platform.python_version()},
            "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
            "rows": rows,
            "table": table,
        }
        tmp = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(args.out)
        print(f"\nwrote {args.out}")
    return 0


def markdown(rows: list[dict], peak: float) -> str:
    lines = [
        f"ORT 1 thread; single-thread MatMul reference {peak:.1f} GFLOP/s. Times: median of round medians.",
        "",
        "| model | batch | Keras tf.function ms | tf2onnx ms | fused ms | fused vs tf2onnx | fused vs Keras "
        "| fused GFLOP/s | % of MatMul | tf2onnx % of MatMul |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['batch']} | {r['ms']['keras']:.3f} | {r['ms']['tf2onnx']:.3f} | "
            f"{r['ms']['fused']:.3f} | {r['speedup_vs_tf2onnx']:.2f}x | {r['speedup_vs_keras']:.2f}x | "
            f"{r['gflops']['fused']:.1f} | {100 * r['share_of_matmul']['fused']:.0f}% | "
            f"{100 * r['share_of_matmul']['tf2onnx']:.0f}% |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
