"""Any Keras recurrent model: fused ``to_onnx`` vs tf2onnx vs Keras's own ONNX export, in one process.

For every case of ``tests/public_cases.py`` (models re-created from tensorflow-onnx's
tests and the keras-io examples and guides), built at the original sizes
(``build(big=True)``: units 64-256, time 50 where the original reads dynamic
lengths, the fixed shapes of the original otherwise), three exporters:

* **fused**: :func:`pipeline.export.to_onnx` (one ONNX RNN/GRU/LSTM op per layer);
* **tf2onnx**: ``tf2onnx.convert.from_function`` on a traced ``tf.function`` of the
  model, with an input signature from ``model.inputs`` (``from_keras`` fails on Keras 3
  Sequential models);
* **keras-export**: ``model.export(path, format="onnx")``.

For each: export seconds, converted yes/no (with the first line of the error), max abs
diff vs Keras (``model(x, training=False)``) over every output and position on a batch
with the case's padding (masked cases: right, left, holed and empty rows), the op types
of note (LSTM/GRU/RNN/Loop/Scan, counted inside subgraphs too), and ORT latency at
batch 1 and 32: 1 intra-op and 1 inter-op thread, sequential execution, warm-up,
then interleaved rounds (each engine timed in turn, so a noisy neighbour hits all
alike); p50 and p90 over all calls. Models with a fixed batch are timed at that batch.

Run::

    .venv/bin/python benchmarks/any_keras_model.py              # every case (~30 min)
    .venv/bin/python benchmarks/any_keras_model.py --quick      # 6 cases, few rounds
    .venv/bin/python benchmarks/any_keras_model.py --cases imdb seq2seq

Writes ``benchmarks/results/any_keras_model.json`` (``--out``) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")  # CPU timings; tf2onnx cannot convert CudnnRNNV3 anyway

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from fused_vs_tf2onnx import count_ops, ort_session  # noqa: E402  (shared ORT settings and op counting)

ENGINES = ("fused", "tf2onnx", "keras-export")
NOTE_OPS = ("LSTM", "GRU", "RNN", "Loop", "Scan")
QUICK = ("tf2onnx-test_layers-test_bidirectional-GRU-sequences", "tf2onnx-test_layers-test_masking-SimpleRNN",
         "keras-io-bidirectional_lstm_imdb", "keras-io-lstm_seq2seq-decoder_model",
         "keras-io-understanding_masking-sequential_mask_zero", "keras-io-working_with_rnns-stateful")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def export_fused(model):
    from pipeline.export import to_onnx

    return to_onnx(model)


def export_tf2onnx(model, opset: int):
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec(kt.shape, kt.dtype, name=f"input_{i}") for i, kt in enumerate(model.inputs)]
    single = len(spec) == 1
    fn = tf.function(lambda *xs: model(xs[0] if single else list(xs), training=False))
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset)
    return proto


def export_keras(model):
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        model.export(str(path), format="onnx", verbose=False)
        return onnx.load(str(path))


def keras_outputs(model, xs) -> list:
    import keras

    out = model(xs[0] if len(xs) == 1 else xs, training=False)
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(out)]


def feed(sess, xs) -> dict:
    return {i.name: x for i, x in zip(sess.get_inputs(), xs)}


def max_diff(want: list, got: list) -> float:
    if len(want) != len(got):
        raise ValueError(f"{len(got)} outputs, Keras has {len(want)}")
    worst = 0.0
    for w, g in zip(want, got):
        if w.shape != g.shape:
            raise ValueError(f"output shape {g.shape}, Keras {w.shape}")
        if w.size:
            worst = max(worst, float(np.abs(g.astype(np.float64) - w.astype(np.float64)).max()))
    return worst


def timed_rounds(fns: dict, *, rounds: int, per: int, warmup: int) -> dict:
    """Interleaved rounds (each callable in turn, ``per`` calls a round); p50/p90 over every call, in ms."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            for _ in range(per):
                t0 = time.perf_counter()
                fn()
                samples[k].append(time.perf_counter() - t0)
    out = {}
    for k, ts in samples.items():
        ts = sorted(ts)
        out[k] = {"p50_ms": 1e3 * statistics.median(ts), "p90_ms": 1e3 * ts[min(len(ts) - 1, int(0.9 * len(ts)))],
                  "calls": len(ts)}
    return out


def note_ops(proto) -> dict:
    ops = count_ops(proto)
    noted = {k: ops[k] for k in NOTE_OPS if ops.get(k)}
    return {"noted": noted, "nodes": sum(ops.values())}


def bench_case(case, args) -> dict:
    import keras

    model = case.build(big=not args.small)
    row = {"case": case.id, "source": case.source, "what": case.what, "engines": {}}
    if any(getattr(layer, "stateful", False) for layer in model._flatten_layers()):
        row["note"] = ("stateful: Keras's answer depends on the calls before it (tracing included), so the "
                       "diffs of engines that convert it compare against a moved state")
    protos = {}
    for engine in ENGINES:
        t0 = time.perf_counter()
        try:
            if engine == "fused":
                proto = export_fused(model)
            elif engine == "tf2onnx":
                proto = export_tf2onnx(model, args.opset)
            else:
                proto = export_keras(model)
            info = {"converted": True, "export_s": time.perf_counter() - t0, "ops": note_ops(proto)}
            protos[engine] = proto
        except Exception as exc:  # noqa: BLE001 - a benchmark records every failure and moves on
            info = {"converted": False, "export_s": time.perf_counter() - t0, "error": first_line(exc)}
        row["engines"][engine] = info

    sessions = {}
    for engine, proto in protos.items():
        try:
            sessions[engine] = ort_session(proto.SerializeToString())
        except Exception as exc:  # noqa: BLE001
            row["engines"][engine].update(converted=False, error=f"ORT session: {first_line(exc)}")
    rng = np.random.default_rng(0)
    padding = case.paddings[-1]
    row["padding"] = padding
    row["batches"] = {}
    for batch in args.batches:
        xs = case.inputs(rng, batch, args.time, padding, model=model)
        actual = int(xs[0].shape[0])
        key = str(batch)
        entry = {"batch": actual, "time": int(xs[0].shape[1]) if xs[0].ndim > 1 else None, "max_abs_diff": {},
                 "errors": {}}
        want = keras_outputs(model, xs) if sessions else []
        runnable = {}
        for engine, sess in sessions.items():
            try:
                entry["max_abs_diff"][engine] = max_diff(want, sess.run(None, feed(sess, xs)))
                runnable[engine] = sess
            except Exception as exc:  # noqa: BLE001
                entry["errors"][engine] = first_line(exc)
        if runnable:
            fns = {e: (lambda s=s, f=feed(s, xs): s.run(None, f)) for e, s in runnable.items()}
            entry["latency"] = timed_rounds(fns, rounds=args.rounds, per=args.per, warmup=args.warmup)
            lat = entry["latency"]
            if "fused" in lat and "tf2onnx" in lat:
                entry["speedup_vs_tf2onnx"] = lat["tf2onnx"]["p50_ms"] / lat["fused"]["p50_ms"]
            if "fused" in lat and "keras-export" in lat:
                entry["speedup_vs_keras_export"] = lat["keras-export"]["p50_ms"] / lat["fused"]["p50_ms"]
        row["batches"][key] = entry
    for engine, info in row["engines"].items():
        diffs = [b["max_abs_diff"][engine] for b in row["batches"].values() if engine in b["max_abs_diff"]]
        info["max_abs_diff"] = max(diffs) if diffs else None
        info["exact"] = bool(diffs) and max(diffs) <= args.tolerance
    return row


def _ops_short(info) -> str:
    if not info.get("converted"):
        return "-"
    noted = info["ops"]["noted"]
    return " ".join(f"{k}{v}" for k, v in noted.items()) or f"{info['ops']['nodes']} nodes"


def _ms(entry, engine) -> str:
    lat = (entry or {}).get("latency", {}).get(engine)
    return f"{lat['p50_ms']:.3f}" if lat else "-"


def markdown(rows: list[dict], batches) -> str:
    b1, b2 = str(batches[0]), str(batches[-1])
    lines = [
        "ORT 1 thread, sequential; p50 of interleaved calls. converted: fused / tf2onnx / keras-export "
        "(y: converted and within the tolerance, d: converted but differs, n: refused or failed).",
        "",
        f"| case | source | converted | max diff fused / tf2onnx | ops fused / tf2onnx | ms b{b1} fused / tf2onnx / "
        f"keras-export | ms b{b2} fused / tf2onnx / keras-export | speedup b{b1} / b{b2} |",
        "|---|---|:---:|---:|---|---:|---:|---:|",
    ]

    def flag(info):
        return "n" if not info.get("converted") else ("y" if info.get("exact") else "d")

    def diff(info):
        d = info.get("max_abs_diff")
        return "-" if d is None else f"{d:.1e}"

    for r in rows:
        e = r["engines"]
        conv = "/".join(flag(e[k]) for k in ENGINES)
        x1, x2 = r["batches"].get(b1, {}), r["batches"].get(b2, {})
        sp = " / ".join(f"{x['speedup_vs_tf2onnx']:.2f}x" if "speedup_vs_tf2onnx" in x else "-" for x in (x1, x2))
        lines.append(
            f"| {r['case']} | {r['source']} | {conv} | {diff(e['fused'])} / {diff(e['tf2onnx'])} | "
            f"{_ops_short(e['fused'])} / {_ops_short(e['tf2onnx'])} | "
            f"{' / '.join(_ms(x1, k) for k in ENGINES)} | {' / '.join(_ms(x2, k) for k in ENGINES)} | {sp} |")
    n = len(rows)
    summary = {k: sum(r["engines"][k].get("exact", False) for r in rows) for k in ENGINES}
    lines += ["", f"{n} cases; exact (<= tolerance on every output): "
              + ", ".join(f"{k} {v}" for k, v in summary.items())]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/any_keras_model.json; "
                    "with --quick or --cases: any_keras_model.partial.json beside it)")
    ap.add_argument("--cases", nargs="+", metavar="SUBSTR", help="only cases whose id contains one of these")
    ap.add_argument("--quick", action="store_true", help=f"few rounds, {len(QUICK)} cases (or those of --cases)")
    ap.add_argument("--small", action="store_true", help="the test sizes (units <= 16) instead of the original ones")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--time", type=int, default=50, help="steps per row where the model's time is dynamic")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--per", type=int, default=10, help="calls per round per engine")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--opset", type=int, default=17, help="opset for tf2onnx")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import onnxruntime as ort
    import tf2onnx

    from public_cases import CASES

    cases = CASES
    if args.quick:  # few rounds; the quick cases unless --cases picks others
        cases = [c for c in CASES if c.id in QUICK]
        args.rounds, args.per, args.warmup = 3, 5, 2
    if args.cases:
        cases = [c for c in CASES if any(s in c.id for s in args.cases)]
    if not cases:
        print("no case matches", file=sys.stderr)
        return 2
    if args.out is None:
        partial = args.quick or args.cases
        args.out = ROOT / "benchmarks" / "results" / f"any_keras_model{'.partial' if partial else ''}.json"

    rows = []
    t_start = time.perf_counter()
    for i, case in enumerate(cases, 1):
        t0 = time.perf_counter()
        row = bench_case(case, args)
        rows.append(row)
        e = row["engines"]
        last = row["batches"].get(str(args.batches[-1]), {})
        print(f"[{i}/{len(cases)}] {case.id}: " + ", ".join(
            f"{k} {'ok' if v.get('exact') else ('DIFF %.1e' % v['max_abs_diff'] if v.get('converted') else 'no')}"
            for k, v in e.items())
            + (f"; b{last.get('batch')} x{last['speedup_vs_tf2onnx']:.2f} vs tf2onnx"
               if "speedup_vs_tf2onnx" in last else "")
            + f" ({time.perf_counter() - t0:.1f} s)", flush=True)
        keras.backend.clear_session()

    table = markdown(rows, args.batches)
    print()
    print(table)
    payload = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "versions": {"onnxruntime": ort.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                     "tf2onnx": tf2onnx.__version__, "python": platform.python_version()},
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "wall_s": time.perf_counter() - t_start,
        "rows": rows,
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(args.out)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
