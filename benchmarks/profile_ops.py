"""Where a tagger export's time goes: ONNX Runtime's profiler, per op type, at batch 1 and batch 32.

For each export folder (``--export``, repeatable), on 1 ORT thread:

* **batch 1**: the brown-upos test sentences of median length, one per call;
* **batch 32**: the first ``--sentences`` test sentences, length-sorted and cut into batches of 32
  (what :class:`pipeline.runtime.session.Tagger` does).

The profiler's kernel times are summed by op type over the graph's top-level nodes
(a ``Scan``'s time includes its body's ops, which are not counted again) and given
as shares of the total. Profiling adds a fixed cost to every op, so the shares
overstate small ops; the unprofiled wall time per call (median of ``--rounds``
rounds) is reported beside them and is the one to compare between exports.
The model's FLOPs per token (recurrent ops, MatMul, Conv at the measured shapes)
are not estimated here; ``benchmarks/peers.py`` reports the MatMul share.

Example::

    .venv/bin/python benchmarks/profile_ops.py --export export/pos-cnn-crf-before --export export/pos-cnn-crf \\
        --out benchmarks/results/profile_ops.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.artifacts import write_json


def _batches(tagger, sentences, batch_size: int) -> list:
    from pipeline.data.batching import bucket_batches
    from pipeline.runtime.encoding import encode_tokens

    rows = encode_tokens(tagger.encoder, sentences)
    order = bucket_batches([len(s) for s in rows.sentences], batch_size, shuffle=False)
    return [tagger._feeds(rows.collate([rows.sentences[i] for i in idx])) for idx in order]


def _session(path: Path, profile_prefix: str | None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def op_shares(path: Path, feeds: list, output: str) -> dict:
    """``{op type: share of kernel time}`` over ``feeds`` (top-level nodes only), largest first."""
    with tempfile.TemporaryDirectory() as tmp:
        session = _session(path, str(Path(tmp) / "profile"))
        for f in feeds:
            session.run([output], f)
        events = json.loads(Path(session.end_profiling()).read_text())
    top_level = {n.name for n in _graph_nodes(path)}
    per_op: collections.Counter = collections.Counter()
    for e in events:
        node = e["name"][: -len("_kernel_time")] if e["name"].endswith("_kernel_time") else None
        if e.get("cat") == "Node" and node in top_level:
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values()) or 1
    return {op: round(us / total, 4) for op, us in per_op.most_common()}


def _graph_nodes(path: Path):
    """The nodes ORT runs at the top level: those of its optimised graph, written out for this purpose."""
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return list(onnx.load(opts.optimized_model_filepath).graph.node)


def wall_ms(path: Path, feeds: list, output: str, rounds: int) -> float:
    """Median over ``rounds`` of the mean milliseconds per call over ``feeds`` (no profiler)."""
    session = _session(path, None)
    for f in feeds[:3]:
        session.run([output], f)
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for f in feeds:
            session.run([output], f)
        per_round.append((time.perf_counter() - start) * 1e3 / len(feeds))
    return float(np.median(per_round))


def profile_export(folder: Path, model_file: str, sentences: int, rounds: int) -> dict:
    from pipeline.data.datasets import load_dataset
    from pipeline.runtime.session import Tagger

    tagger = Tagger.load(folder, threads=1, model_file=model_file)
    output = "tags" if tagger.has_tags else "probs"
    test = [list(t) for t in load_dataset("brown-upos")["test"].tokens]
    median = sorted(map(len, test))[len(test) // 2]
    single = [s for s in test if len(s) == median][:200]
    many = test[:sentences]
    path = folder / model_file
    out = {"export": str(folder), "model_file": model_file, "output": output, "median_length": median,
           "bytes": path.stat().st_size, "runs": {}}
    for label, feeds, tokens in (("batch 1", _batches(tagger, single, 1), len(single) * median),
                                 ("batch 32", _batches(tagger, many, 32), sum(map(len, many)))):
        ms = wall_ms(path, feeds, output, rounds)
        out["runs"][label] = {"calls": len(feeds), "tokens": tokens, "ms_per_call": ms,
                              "us_per_token": ms * 1e3 * len(feeds) / tokens,
                              "op_shares": op_shares(path, feeds, output)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", type=Path, action="append", required=True, help="an rnnx tagger export folder")
    parser.add_argument("--model-file", default="model.onnx", help="file inside each folder (default model.onnx)")
    parser.add_argument("--sentences", type=int, default=2000, help="test sentences for the batch-32 run")
    parser.add_argument("--rounds", type=int, default=5, help="unprofiled rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=Path("export/profile_ops.json"), help="JSON report")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for folder in args.export:
        if not (folder / args.model_file).exists():
            parser.error(f"--export {folder}: no {args.model_file} there; export a tagger with `rnnx export`")
    import onnxruntime

    results = [profile_export(f, args.model_file, args.sentences, args.rounds) for f in args.export]
    report = {"onnxruntime": onnxruntime.__version__, "cpu_count": os.cpu_count(), "ort_threads": 1,
              "data": "brown-upos:test", "results": results}
    for r in results:
        print(f"\n{r['export']}/{r['model_file']} ({r['bytes'] / 1e6:.1f} MB)")
        for label, run in r["runs"].items():
            top = ", ".join(f"{op} {100 * s:.0f}%" for op, s in list(run["op_shares"].items())[:6])
            print(f"  {label:8s} {run['ms_per_call']:8.3f} ms/call {run['us_per_token']:6.2f} us/token | {top}")
    write_json(args.out, report)  # atomic, parents created: an interrupted run leaves the previous report
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
