"""Tag the brown-upos test split end to end from tokens: rnnx (ONNX Runtime, 1 thread) vs NLTK.

Both sides start from the same token lists (the corpus's tokenisation) and end with one tag
string per token; accuracy is scored against the same gold tags.

* ``rnnx Tagger``    :class:`pipeline.runtime.session.Tagger` on ``model.onnx`` (vocabulary lookup
                     in Python, length-bucketed batches, one ORT session with 1 thread);
* ``rnnx text model``:class:`pipeline.runtime.text.TextModel` on ``model.text.onnx`` (lookup,
                     lowercasing and label names inside the graph), when the export has it;
* ``rnnx int8 ...``  the same for ``model.int8.onnx`` / ``model.int8.text.onnx`` when present;
* ``NLTK perceptron``  ``nltk.tag.perceptron.PerceptronTagger`` (averaged perceptron) trained on
                     the brown-upos **train** split here (``--nltk-iterations``, default 5, NLTK's
                     default), then ``tag_sents`` on the test split.

NLTK is **not** an rnnx dependency; install it into the virtualenv for this script only::

    .venv/bin/pip install nltk
    .venv/bin/python benchmarks/runtime_vs_nltk.py export/brown-upos-bilstm

Each timed run is repeated (``--repeats``) and the fastest is kept. Prints a table; writes
``runtime_vs_nltk.json`` into the export folder (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.check.bench import best_of  # noqa: E402
from pipeline.scoring.accuracy import accuracy  # noqa: E402


def rnnx_runners(folder: Path, batch_size: int) -> dict:
    from pipeline.runtime.session import Tagger
    from pipeline.runtime.text import TextModel

    runners = {}
    for model_file, label in (("model.onnx", "rnnx Tagger (model.onnx)"),
                              ("model.int8.onnx", "rnnx Tagger (model.int8.onnx)")):
        if (folder / model_file).exists():
            tagger = Tagger.load(folder, threads=1, model_file=model_file)
            runners[label] = lambda toks, t=tagger: t.predict_tokens(toks, batch_size)
    for model_file in ("model.text.onnx", "model.int8.text.onnx"):
        if (folder / model_file).exists():
            text = TextModel.load(folder / model_file, threads=1)
            runners[f"rnnx text model ({model_file})"] = lambda toks, t=text: t.predict_tokens(toks, batch_size)
    return runners


def nltk_runner(train_tokens, train_tags, iterations: int):
    try:
        from nltk.tag.perceptron import PerceptronTagger
    except ImportError:
        sys.exit("NLTK is not installed. It is not an rnnx dependency; for this benchmark only run:\n"
                 "    .venv/bin/pip install nltk")
    tagger = PerceptronTagger(load=False)
    started = time.perf_counter()
    tagger.train([list(zip(toks, tags)) for toks, tags in zip(train_tokens, train_tags)], nr_iter=iterations)
    train_s = time.perf_counter() - started

    def run(sentences):
        return [[tag for _, tag in sent] for sent in tagger.tag_sents(sentences)]

    return run, train_s


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: .venv/bin/python benchmarks/runtime_vs_nltk.py export/brown-upos-bilstm")
    parser.add_argument("export", type=Path, help="an rnnx export folder of a brown-upos tagger")
    parser.add_argument("--batch-size", type=int, default=32, help="rnnx batch size (default 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per tagger; the fastest is kept")
    parser.add_argument("--nltk-iterations", type=int, default=5, help="perceptron training passes (NLTK's default 5)")
    parser.add_argument("--limit", type=int, default=None, help="tag only the first N test sentences")
    parser.add_argument("--no-nltk", action="store_true", help="time rnnx only")
    parser.add_argument("--out", type=Path, default=None, help="JSON report (default EXPORT/runtime_vs_nltk.json)")
    args = parser.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from pipeline.data.datasets import load_dataset

    info = json.loads((args.export / "export.json").read_text(encoding="utf-8"))
    if info.get("task") != "tagging":
        sys.exit(f"{args.export} holds a {info.get('task')} model; this benchmark needs a brown-upos tagger")
    splits = load_dataset("brown-upos")
    test = splits["test"] if args.limit is None else splits["test"].head(args.limit)
    tokens = [list(t) for t in test.tokens]
    n_tokens = sum(len(t) for t in tokens)

    runners = rnnx_runners(args.export, args.batch_size)
    nltk_train_s = None
    if not args.no_nltk:
        print(f"training NLTK's averaged perceptron on brown-upos train ({splits['train'].num_tokens:,} tokens, "
              f"{args.nltk_iterations} passes) ...", flush=True)
        runners["NLTK averaged perceptron"], nltk_train_s = nltk_runner(
            splits["train"].tokens, splits["train"].labels, args.nltk_iterations)

    rows = []
    for label, run in runners.items():
        run(tokens[:64])  # warm-up
        seconds, predicted = best_of(lambda: run(tokens), args.repeats)
        rows.append({"tagger": label, "seconds": seconds, "tokens_per_s": n_tokens / seconds,
                     "accuracy": accuracy(test.labels, predicted)})
    nltk_rate = next((r["tokens_per_s"] for r in rows if r["tagger"].startswith("NLTK")), None)
    for row in rows:
        row["vs_nltk"] = row["tokens_per_s"] / nltk_rate if nltk_rate else None

    import onnxruntime

    report = {"export": str(args.export), "split": f"brown-upos:test ({len(tokens)} sentences, {n_tokens} tokens)",
              "batch_size": args.batch_size, "ort_threads": 1, "cpu_count": os.cpu_count(),
              "onnxruntime": onnxruntime.__version__, "nltk_train_seconds": nltk_train_s, "rows": rows}
    width = max(len(r["tagger"]) for r in rows)
    print(f"\n{report['split']}, ONNX Runtime 1 thread, batch {args.batch_size}")
    print(f"{'tagger':<{width}}  {'tokens/s':>10}  {'seconds':>8}  {'accuracy':>8}  {'x NLTK':>6}")
    for r in rows:
        ratio = f"{r['vs_nltk']:.2f}" if r["vs_nltk"] else "-"
        print(f"{r['tagger']:<{width}}  {r['tokens_per_s']:>10,.0f}  {r['seconds']:>8.2f}  {r['accuracy']:>8.4f}  {ratio:>6}")
    out = args.out or args.export / "runtime_vs_nltk.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
