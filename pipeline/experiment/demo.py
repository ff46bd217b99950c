"""``rnnx demo`` (what ``make demo`` runs): the whole job on real corpora, as the plan
:data:`pipeline.experiment.plan.DEMO`.

1. brown-upos: train a bidirectional LSTM tagger, evaluate, export (fused when
   covered), check parity on the held-out split, bench latency;
2. mr: the same for a bidirectional LSTM sentiment classifier;
3. brown-upos again, a unidirectional LSTM tagger exported with ``--streaming``:
   tags streamed token by token must equal the whole-sentence tags, and the cost
   of one new token is timed against re-running the prefix;
4. print a one-screen summary (also written to ``export/demo_summary.json``).

Demo runs replace earlier demo runs of the same name. ``--quick`` trains on
slices for one epoch: a smoke test of every stage, not a model to use.

>>> [(t.data, demo_name(t, quick=True)) for t in DEMO.tasks]
[('brown-upos', 'brown-upos-bilstm-quick'), ('mr', 'mr-bilstm-quick')]
"""

from __future__ import annotations

import time

from pipeline.artifacts import read_json, write_json
from pipeline.experiment.grid import run_name
from pipeline.experiment.plan import DEMO, TaskPlan, spec_for

#: the accuracy the issue asks for on each corpus's test split
TARGETS = {"brown-upos": 0.96, "mr": 0.75}
QUICK_TRAIN_LIMIT = 2000  # --quick: the first N training sequences, one epoch


def demo_name(task: TaskPlan, *, quick: bool) -> str:
    return run_name(task.data, DEMO.cells[0], True) + ("-quick" if quick else "")


def _banner(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def run_job(task: TaskPlan, quick: bool) -> dict:
    from pipeline.check.bench import format_bench
    from pipeline.check.verify import bench_all, check_all, format_checks
    from pipeline.export.exporter import export_run
    from pipeline.train.fit import train
    from pipeline.train.summary import format_run_metrics

    name = demo_name(task, quick=quick)
    _banner(f"{name}: train ({task.data})")
    spec = spec_for(task, name, data=task.data, cell=DEMO.cells[0], epochs=1 if quick else None,
                    train_limit=QUICK_TRAIN_LIMIT if quick else None)
    started = time.perf_counter()
    folder = train(spec, force=True)
    train_s = time.perf_counter() - started
    metrics = read_json(folder / "metrics.json")
    print(format_run_metrics(folder, metrics))

    _banner(f"{name}: export")
    result = export_run(folder, quantize="int8", ort=True, force=True)
    print(f"exported {result.folder}/model.onnx (engine {result.engine}) {result.note}")
    print("  with " + ", ".join(sorted(p.name for p in result.folder.glob("model.*") if p.name != "model.onnx")))

    _banner(f"{name}: check parity on held-out data")
    checks = check_all(result.folder, limit=500 if quick else None)
    print(format_checks(checks))
    parity = checks["model.onnx"]

    node = None
    from pipeline.check.node import check_node_example, node_available

    if node_available():
        _banner(f"{name}: the JavaScript example (onnxruntime-node) against Python")
        node = check_node_example(result.folder, limit=100 if quick else 500)
        print(f"examples/node/tag.js on {node['sequences']} held-out sequences: {node['label_mismatches']} label "
              f"mismatches, max |diff| {node['max_abs_diff']:.1e} (tolerance {node['atol']:g})")
    else:
        print("node/npm not installed: skipping the JavaScript example check")

    _banner(f"{name}: bench latency")
    benches = bench_all(result.folder, budget_s=0.2 if quick else 0.5)
    bench = benches["model.onnx"]
    print(format_bench(bench))
    int8 = checks.get("model.int8.onnx", {})
    return {
        "name": name,
        "data": task.data,
        "model": spec.model.describe(),
        "train_seconds": round(train_s, 1),
        "epochs_run": metrics.get("epochs_run"),
        "test_accuracy": metrics["test"]["accuracy"],
        "target": TARGETS[task.data],
        "oov_accuracy": metrics["test"].get("out_of_vocab", {}).get("accuracy"),
        "engine": result.engine,
        "parity_max_abs_diff": max(parity["heldout"]["max_abs_diff"], parity["random"]["max_abs_diff"]),
        "label_agreement": parity["heldout"]["label_agreement"],
        "ort_1t_b1_median_ms": _cell(bench, 1, "median", "ort-1t"),
        "tf_function_b1_median_ms": _cell(bench, 1, "median", "keras-tf.function"),
        "predict_b1_median_ms": _cell(bench, 1, "median", "keras-predict"),
        "ort_1t_b32_median_ms": _cell(bench, 32, "median", "ort-1t"),
        "int8_test_accuracy": int8.get("accuracy", {}).get("int8"),
        "int8_label_agreement": int8.get("label_agreement"),
        "node_label_mismatches": node["label_mismatches"] if node else None,
        "text_model_label_mismatches": checks.get("model.text.onnx", {}).get("heldout", {}).get("label_mismatches"),
        "tf_function_b32_median_ms": _cell(bench, 32, "median", "keras-tf.function"),
    }


STREAM_SENTENCES = 300  # held-out sentences streamed token by token against the whole-sentence tags
STREAM_PREFIXES = (10, 50, 200)


def run_streaming_job(task: TaskPlan, quick: bool) -> dict:
    """A unidirectional tagger exported with ``streaming=True``: parity token by token, per-token latency."""
    import numpy as np

    from pipeline.check.bench import median_ms
    from pipeline.check.parity import heldout_split
    from pipeline.export.exporter import export_run
    from pipeline.runtime.session import load
    from pipeline.runtime.stream import Stream, TagStream
    from pipeline.train.fit import train
    from pipeline.train.rundir import load_run

    name = run_name(task.data, DEMO.cells[0], False) + "-stream" + ("-quick" if quick else "")
    _banner(f"{name}: train a unidirectional tagger ({task.data}) for streaming")
    spec = spec_for(task, name, data=task.data, cell=DEMO.cells[0], bidirectional=False,
                    epochs=1 if quick else None, train_limit=QUICK_TRAIN_LIMIT if quick else None)
    folder = train(spec, force=True)
    metrics = read_json(folder / "metrics.json")
    _banner(f"{name}: export with --streaming, tag token by token")
    result = export_run(folder, streaming=True, text=False, force=True)
    _, split = heldout_split(load_run(folder))
    sentences = [t for t in split.tokens if t][:100 if quick else STREAM_SENTENCES]
    whole, stream = load(result.folder), TagStream(result.folder)
    want = whole.predict_tokens(sentences)
    differing = 0
    for tokens, tags in zip(sentences, want):
        stream.reset()
        differing += sum(stream.push([t])[0][1] != tag for t, tag in zip(tokens, tags))
    latency = {}
    raw = Stream(result.folder / "model.stream.onnx")
    for n in STREAM_PREFIXES:
        ids = np.full((1, n), 2, np.int64)
        raw.reset()
        raw.push(ids[:, :-1])
        saved = dict(raw.state)

        def one_more_token(last=ids[:, -1:], saved=saved):
            raw.state = dict(saved)  # the state after the prefix, each time
            raw.push(last)

        stream_ms = median_ms(one_more_token)
        prefix_ms = median_ms(lambda ids=ids: whole.session.run(None, {"ids": ids}))
        latency[str(n)] = {"stream_us": stream_ms * 1e3, "prefix_us": prefix_ms * 1e3,
                           "speedup": prefix_ms / stream_ms}
    tokens = sum(len(t) for t in sentences)
    print(f"{len(sentences)} held-out sentences ({tokens} tokens) streamed one token per call: {differing} tags "
          "differ from the whole-sentence tags")
    for n, row in latency.items():
        print(f"  new token after {n:>3} tokens: stream {row['stream_us']:6.1f} us, re-run prefix "
              f"{row['prefix_us']:7.1f} us ({row['speedup']:.1f}x)")
    return {"name": name, "test_accuracy": metrics["test"]["accuracy"], "streamed_tokens": tokens,
            "streamed_tag_mismatches": differing, "latency": latency}


def _cell(bench: dict, batch: int, length: str, runner: str) -> float | None:
    for row in bench["rows"]:
        if row["batch"] == batch and row["length"] == length and runner in row:
            return row[runner]["p50_ms"]
    return None


def format_summary(rows: list[dict], seconds: float) -> str:
    lines = [f"rnnx demo finished in {seconds / 60:.1f} min", ""]
    head = f"{'run':<24} {'test acc':>8} {'target':>6} {'oov acc':>7} {'engine':>7} {'max|diff|':>9} {'agree':>7} " \
           f"{'ORT b1':>7} {'tf.fn b1':>8} {'predict':>7} {'ORT b32':>7} {'tf.fn b32':>9}"
    lines.append(head)
    for r in rows:
        oov = f"{r['oov_accuracy']:.4f}" if r.get("oov_accuracy") is not None else "-"
        lines.append(
            f"{r['name']:<24} {r['test_accuracy']:>8.4f} {r['target']:>6.2f} {oov:>7} {r['engine']:>7} "
            f"{r['parity_max_abs_diff']:>9.1e} {r['label_agreement'] * 100:>6.2f}% "
            f"{r['ort_1t_b1_median_ms']:>6.2f}ms {r['tf_function_b1_median_ms']:>6.2f}ms {r['predict_b1_median_ms']:>5.1f}ms "
            f"{r['ort_1t_b32_median_ms']:>5.2f}ms {r['tf_function_b32_median_ms']:>7.2f}ms"
        )
    lines.append("latencies: p50 at batch 1 / 32 on median-length held-out sentences; ORT on 1 thread")
    return "\n".join(lines)


def run_demo(*, quick: bool = False, classifier: bool = True) -> dict:
    started = time.perf_counter()
    rows = [run_job(task, quick) for task in DEMO.tasks if classifier or task.task == "tagging"]
    streaming = run_streaming_job(DEMO.task("brown-upos"), quick)
    seconds = time.perf_counter() - started
    _banner("summary")
    print(format_summary(rows, seconds))
    row = streaming["latency"][str(STREAM_PREFIXES[-1])]
    print(f"{streaming['name']}: test acc {streaming['test_accuracy']:.4f}; streamed {streaming['streamed_tokens']} "
          f"tokens one per call, {streaming['streamed_tag_mismatches']} tags differ from whole sentences; one new "
          f"token after {STREAM_PREFIXES[-1]}: {row['stream_us']:.0f} us streamed vs {row['prefix_us']:.0f} us "
          f"re-running the prefix ({row['speedup']:.0f}x)")
    summary = {"seconds": round(seconds, 1), "quick": quick, "runs": rows, "streaming": streaming}
    write_json("export/demo_summary.json", summary)
    return summary
