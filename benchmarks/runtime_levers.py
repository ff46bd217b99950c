"""The runtime's own levers on a tagger export, one at a time, measured side by side in one run.

Every row tags the same brown-upos test sentences end to end from tokens
(:meth:`pipeline.runtime.session.Tagger.predict_tokens`: encoding, batching, ONNX
Runtime, labels) and reports tokens/s, the median of ``--rounds`` interleaved rounds:

* **batch size**: 1, 8, 32 (the default), 64, 128, 256;
* **length-sorted batches** (the runtime's default) against batches in corpus order;
* **threads**: 1 against 2 intra-op threads (where the machine has 2 cores);
* **graph optimisation**: ORT's ``basic`` level against ``all`` (the default);
* **model file**: ``model.onnx`` against ``model.int8.onnx`` when the export has it.

Example::

    .venv/bin/python benchmarks/runtime_levers.py export/pos-cnn-crf-f100 --out benchmarks/results/runtime_levers.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.artifacts import write_json


def _tagger(folder: Path, *, model_file: str = "model.onnx", threads: int = 1, level: str = "all"):
    import onnxruntime as ort

    from pipeline.runtime.session import Tagger

    tagger = Tagger.load(folder, threads=threads, model_file=model_file)
    if level != "all":  # rebuild the session at the requested optimisation level
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                         "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]
        tagger.session = ort.InferenceSession(str(folder / model_file), opts, providers=["CPUExecutionProvider"])
    return tagger


def _unsorted(tagger, sentences, batch_size: int):
    """``predict_tokens`` with batches cut in corpus order (no length sorting)."""
    out = []
    for i in range(0, len(sentences), batch_size):
        out += tagger.predict_tokens(sentences[i: i + batch_size], batch_size=batch_size)
    return out


def levers(folder: Path) -> dict:
    """Row label -> a function tagging token lists, for every lever this export and machine allow."""
    rows = {}
    base = _tagger(folder)
    for b in (1, 8, 32, 64, 128, 256):
        rows[f"batch {b}"] = lambda s, b=b: base.predict_tokens(s, batch_size=b)
    rows["batch 32, corpus order (not length-sorted)"] = lambda s: _unsorted(base, s, 32)
    if (os.cpu_count() or 1) >= 2:
        two = _tagger(folder, threads=2)
        rows["batch 32, 2 threads"] = lambda s: two.predict_tokens(s, batch_size=32)
    basic = _tagger(folder, level="basic")
    rows["batch 32, graph optimisation basic"] = lambda s: basic.predict_tokens(s, batch_size=32)
    if (folder / "model.int8.onnx").exists():
        q = _tagger(folder, model_file="model.int8.onnx")
        rows["batch 32, model.int8.onnx"] = lambda s: q.predict_tokens(s, batch_size=32)
        rows["batch 128, model.int8.onnx"] = lambda s: q.predict_tokens(s, batch_size=128)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export", type=Path, help="an rnnx brown-upos tagger export folder")
    parser.add_argument("--sentences", type=int, default=None, help="the first N test sentences (default all)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=Path("export/runtime_levers.json"), help="JSON report")
    args = parser.parse_args(argv)
    if not (args.export / "export.json").exists():
        parser.error(f"{args.export} is not an rnnx export folder; create one with `rnnx export`")
    from pipeline.data.datasets import load_dataset
    from pipeline.scoring.accuracy import accuracy

    test = load_dataset("brown-upos")["test"]
    if args.sentences:
        test = test.head(args.sentences)
    sentences = [list(t) for t in test.tokens]
    tokens = sum(map(len, sentences))
    runners = levers(args.export)
    seconds = {k: [] for k in runners}
    acc = {}
    for label, run in runners.items():
        acc[label] = accuracy(test.labels, run(sentences))  # warm-up, and every lever must keep the answers
    for _ in range(args.rounds):
        for label, run in runners.items():
            start = time.perf_counter()
            run(sentences)
            seconds[label].append(time.perf_counter() - start)
    base = tokens / float(np.median(seconds["batch 32"]))
    rows = [{"lever": k, "tokens_per_s": tokens / float(np.median(v)), "vs_batch_32": tokens / float(np.median(v)) / base,
             "accuracy": acc[k], "seconds": [round(x, 4) for x in v]} for k, v in seconds.items()]
    import onnxruntime

    report = {"export": str(args.export), "data": f"brown-upos:test ({len(sentences)} sentences, {tokens} tokens)",
              "cpu_count": os.cpu_count(), "onnxruntime": onnxruntime.__version__, "rounds": args.rounds,
              "rows": rows}
    width = max(len(r["lever"]) for r in rows)
    print(f"{report['data']}; {args.export}")
    for r in rows:
        print(f"{r['lever']:<{width}}  {r['tokens_per_s']:>10,.0f} tokens/s  {r['vs_batch_32']:5.2f}x  "
              f"accuracy {100 * r['accuracy']:.2f}%")
    write_json(args.out, report)  # atomic, parents created: an interrupted run leaves the previous report
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
