"""rnnx exports against classic peers, on the same test splits, in one run.

* tagging, brown-upos test: the rnnx tagger (ONNX Runtime, 1 thread) vs NLTK's averaged
  perceptron (``nltk.tag.perceptron.PerceptronTagger(load=False)``) trained here on the
  brown-upos **train** split (5 passes, NLTK's default), and spaCy's default CPU tagger
  (``spacy init config --lang en --pipeline tagger --optimize efficiency``, trained with
  ``spacy train`` on train, dev picking the best checkpoint; cached, see ``benchmarks/spacy_peer.py``);
* classification, mr test: the rnnx classifier vs a TF-IDF unigram+bigram logistic regression
  (L2, written here with numpy: sparse rows as index/value arrays, L-BFGS), trained on the mr
  train split with its regularisation strength C chosen on the dev split.

Both sides start from the corpus tokens and end with label strings; accuracy is scored
against the same gold labels, speed is tokens/s (tagging) or texts/s (classification) over
the whole test split, feature extraction included. Taggers are timed in ``--repeats``
interleaved rounds and the median is kept (classifiers: the fastest of ``--repeats`` runs).
For taggers the accuracy on test tokens outside the (first) rnnx vocabulary is reported for
every model; each rnnx tagger (``--tagger`` repeats, and an export's ``model.int8.onnx`` gets
its own row) also gets its batch-1 p50 latency on a median-length sentence and its share of
single-thread MatMul speed: FLOPs per token (recurrent and dense weights) x tokens/s over a
``[2048, 256] x [256, 512]`` ONNX Runtime MatMul's FLOP/s, measured in the same run.

NLTK and spaCy are **not** rnnx dependencies; install them into the virtualenv for this script
only (the ``peers`` extra: ``.venv/bin/pip install -e '.[peers]'``)::

    .venv/bin/pip install nltk "spacy>=3.8,<3.9"
    nice -n 10 .venv/bin/python benchmarks/spacy_peer.py   # optional: train spaCy's tagger ahead (long)
    .venv/bin/python benchmarks/peers.py --tagger export/brown-upos-bilstm --classifier export/mr-bilstm

Prints a markdown table; writes the JSON report to ``--out`` (default ``export/peers.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.check.bench import best_of, median_ms  # noqa: E402
from pipeline.scoring.accuracy import accuracy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spacy_peer  # noqa: E402

# shared with `rnnx experiment` (pipeline/experiment/peers.py): the C grid, the n-grams, NLTK's perceptron
from pipeline.experiment.peers import C_GRID, grams  # noqa: E402,F401


# ----------------------------------------------------------------------------- timing, scoring


def token_accuracy(gold, predicted, keep=None) -> float | None:
    """Token accuracy; ``keep`` (same shape, booleans) restricts it to some tokens; None when none is kept."""
    return accuracy(gold, predicted, keep=keep, empty=None)


# ----------------------------------------------------------------------------- TF-IDF + logistic regression


class Tfidf:
    """Unigram+bigram TF-IDF of lowercased tokens: raw counts x smoothed idf, rows L2-normalised.

    >>> t = Tfidf.fit([["a", "b"], ["a", "c"]])
    >>> rows, cols, vals = t.transform([["a", "b", "z"]])
    >>> sorted(t.index[c] for c in cols)   # "z" and "b z" are unknown
    ['a', 'a b', 'b']
    >>> round(float((vals ** 2).sum()), 6)
    1.0
    """

    def __init__(self, index: dict[str, int], idf: np.ndarray):
        self.vocab = index
        self.idf = idf
        self.index = {i: g for g, i in index.items()}

    grams = staticmethod(grams)

    @classmethod
    def fit(cls, texts: list[list[str]], min_df: int = 1) -> "Tfidf":
        df = Counter(g for t in texts for g in set(cls.grams(t)))
        kept = sorted(g for g, c in df.items() if c >= min_df)
        n = len(texts)
        idf = np.asarray([math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept])
        return cls({g: i for i, g in enumerate(kept)}, idf)

    @property
    def size(self) -> int:
        return len(self.idf)

    def transform(self, texts: list[list[str]]):
        """Sparse rows as ``(row ids, column ids, values)`` of the non-zero entries."""
        rows, cols, vals = [], [], []
        vocab = self.vocab
        for r, t in enumerate(texts):
            counts = Counter(vocab[g] for g in self.grams(t) if g in vocab)
            if not counts:
                continue
            c = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            v = np.fromiter(counts.values(), dtype=np.float64, count=len(counts)) * self.idf[c]
            v /= np.sqrt((v * v).sum())
            rows.append(np.full(len(c), r, dtype=np.int64))
            cols.append(c)
            vals.append(v)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def lbfgs(fun, x0: np.ndarray, *, max_iter: int = 300, memory: int = 10, tol: float = 1e-6) -> np.ndarray:
    """Minimise ``fun(x) -> (value, gradient)`` with L-BFGS and a backtracking (Armijo) line search."""
    x = x0.copy()
    f, g = fun(x)
    S: list[np.ndarray] = []
    Y: list[np.ndarray] = []
    for _ in range(max_iter):
        q = g.copy()
        history = []
        for s, y in zip(reversed(S), reversed(Y)):
            rho = 1.0 / (y @ s)
            a = rho * (s @ q)
            q -= a * y
            history.append((rho, a, s, y))
        if S:
            q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
        else:
            q /= max(1.0, np.linalg.norm(g))
        for rho, a, s, y in reversed(history):
            q += s * (a - rho * (y @ q))
        d = -q
        slope = g @ d
        if slope >= 0:  # not a descent direction: restart from the gradient
            S.clear(), Y.clear()
            d, slope = -g, -(g @ g)
        step = 1.0
        while True:
            x_new = x + step * d
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
            if step < 1e-12:
                return x
        s, y = x_new - x, g_new - g
        if y @ s > 1e-12:
            S.append(s)
            Y.append(y)
            if len(S) > memory:
                S.pop(0), Y.pop(0)
        converged = abs(f - f_new) <= tol * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if converged or np.linalg.norm(g) < 1e-8:
            break
    return x


class LogisticRegression:
    """Binary logistic regression, objective ``C * sum(log-loss) + |w|^2 / 2`` (bias not penalised)."""

    def __init__(self, C: float):
        self.C = C
        self.w: np.ndarray | None = None

    @staticmethod
    def _scores(X, w: np.ndarray, n: int) -> np.ndarray:
        rows, cols, vals = X
        return np.bincount(rows, weights=vals * w[cols], minlength=n) + w[-1]

    def fit(self, X, y: np.ndarray, n_features: int) -> "LogisticRegression":
        rows, cols, vals = X
        n = len(y)

        def fun(w):
            z = self._scores(X, w, n)
            loss = np.logaddexp(0.0, z) - y * z
            r = self.C * (1.0 / (1.0 + np.exp(-z)) - y)
            grad = np.empty_like(w)
            grad[:-1] = np.bincount(cols, weights=vals * r[rows], minlength=n_features) + w[:-1]
            grad[-1] = r.sum()
            return self.C * loss.sum() + 0.5 * (w[:-1] @ w[:-1]), grad

        self.w = lbfgs(fun, np.zeros(n_features + 1))
        return self

    def predict(self, X, n: int) -> np.ndarray:
        return (self._scores(X, self.w, n) > 0).astype(np.int64)


def tfidf_lr(train, dev):
    """Fit TF-IDF + logistic regression on ``train``, choosing C on ``dev``. Returns (predict, info)."""
    names = sorted(set(train.labels))
    if len(names) != 2:
        sys.exit(f"the TF-IDF logistic regression here is binary; the data has {len(names)} labels")
    started = time.perf_counter()
    tfidf = Tfidf.fit(train.tokens)
    X = tfidf.transform(train.tokens)
    y = np.asarray([names.index(label) for label in train.labels], dtype=np.float64)
    Xd = tfidf.transform(dev.tokens)
    yd = np.asarray([names.index(label) for label in dev.labels])
    dev_acc = {}
    best = None
    for C in C_GRID:
        model = LogisticRegression(C).fit(X, y, tfidf.size)
        dev_acc[C] = float((model.predict(Xd, len(yd)) == yd).mean())
        if best is None or dev_acc[C] > dev_acc[best.C]:
            best = model
    train_s = time.perf_counter() - started

    def predict(texts):
        return [names[i] for i in best.predict(tfidf.transform(texts), len(texts))]

    return predict, {"features": tfidf.size, "C": best.C, "dev_accuracy_by_C": dev_acc, "train_seconds": train_s}


# ----------------------------------------------------------------------------- NLTK perceptron


def nltk_perceptron(train, iterations: int, seed: int = 0):
    """:func:`pipeline.experiment.peers.nltk_perceptron`; without NLTK, exit with how to install it."""
    from pipeline.errors import RnnxError
    from pipeline.experiment.peers import nltk_perceptron as train_perceptron

    try:
        return train_perceptron(train, iterations, seed)
    except RnnxError as e:
        sys.exit(str(e))


# ----------------------------------------------------------------------------- the comparison


def _export_info(folder: Path, task: str) -> dict:
    path = folder / "export.json"
    if not path.exists():
        sys.exit(f"{folder} is not an rnnx export folder (no export.json); create one with `rnnx export`")
    info = json.loads(path.read_text(encoding="utf-8"))
    if info.get("task") != task:
        sys.exit(f"{folder} holds a {info.get('task')} model; expected a {task} model here")
    return info


def matmul_gflops(rounds: int = 20) -> float:
    """Single-thread ONNX Runtime float32 MatMul speed, GFLOP/s: ``[2048, 256] x [256, 512]``, median of ``rounds``."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    m, k, n = 2048, 256, 512
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, n)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    ms = median_ms(lambda: session.run(None, {"x": x}), rounds)
    return 2 * m * k * n / (ms * 1e-3) / 1e9


def flops_per_token(path: Path) -> int:
    """Multiply-adds x 2 per token of a tagger graph's recurrent ops and weight MatMuls (float or int8).

    A recurrent op reads every weight of ``W`` and ``R`` once per token (both directions
    together); a MatMul against a 2-D weight, once. The character CNN is left out: with the
    character cache it runs only for spellings outside the table.
    """
    import onnx

    graph = onnx.load(path).graph
    sizes = {t.name: int(np.prod(t.dims)) for t in graph.initializer}
    dims = {t.name: len(t.dims) for t in graph.initializer}
    macs = 0
    for node in graph.node:
        if node.op_type in ("LSTM", "GRU", "RNN", "DynamicQuantizeLSTM"):
            macs += sizes.get(node.input[1], 0) + sizes.get(node.input[2], 0)
        elif node.op_type in ("MatMul", "MatMulInteger") and dims.get(node.input[1]) == 2:
            macs += sizes[node.input[1]]
    return 2 * macs


def batch1_p50_ms(tagger, tokens: list[list[str]]) -> tuple[int, float]:
    """``(length, p50 ms)``: one median-length test sentence per call, its labels decoded in the graph or argmax."""
    from pipeline.runtime.encoding import encode_tokens

    length = sorted(map(len, tokens))[len(tokens) // 2]
    sentence = next(t for t in tokens if len(t) == length)
    rows = encode_tokens(tagger.encoder, [sentence])
    feeds = tagger._feeds(rows.collate(rows.sentences))
    output = ["tags" if tagger.has_tags else "probs"]
    return length, median_ms(lambda: tagger.session.run(output, feeds), 500)


def rnnx_runners(folders: list[Path], tokens, args) -> dict:
    """One runner per export and model file (``model.onnx``, and ``model.int8.onnx`` where it exists)."""
    from pipeline.runtime.session import Tagger

    runners = {}
    gflops = matmul_gflops()
    for folder in folders:
        info = _export_info(folder, "tagging")
        for model_file in ("model.onnx", "model.int8.onnx"):
            if not (folder / model_file).exists():
                continue
            tagger = Tagger.load(folder, threads=1, model_file=model_file)
            length, p50 = batch1_p50_ms(tagger, tokens)
            kind = " int8" if "int8" in model_file else ""
            extra = {"engine": info.get("engine"), "export": str(folder), "model_file": model_file,
                     "bytes": (folder / model_file).stat().st_size, "batch1_length": length, "batch1_p50_ms": p50,
                     "flops_per_token": flops_per_token(folder / model_file), "matmul_gflops": gflops,
                     "char_cache": info.get("char_cache")}
            runners[f"rnnx {info['name']}{kind} (ORT 1 thread, batch {args.batch_size})"] = (
                lambda toks, t=tagger: t.predict_tokens(toks, args.batch_size), extra)
    return runners


def compare_tagging(folders: list[Path], args) -> dict:
    """Every tagger on brown-upos test: accuracy once, then ``--repeats`` interleaved timed rounds (median)."""
    from pipeline.data.datasets import load_dataset
    from pipeline.runtime.session import Tagger

    splits = load_dataset("brown-upos")
    test = splits["test"]
    tokens = [list(t) for t in test.tokens]
    n_tokens = sum(len(t) for t in tokens)
    vocab = Tagger.load(folders[0], threads=1).vocab
    oov = [[w not in vocab for w in t] for t in tokens]
    runners = rnnx_runners(folders, tokens, args)
    print(f"training NLTK's averaged perceptron on brown-upos train ({splits['train'].num_tokens:,} tokens, "
          f"{args.nltk_iterations} passes) ...", flush=True)
    runners["NLTK averaged perceptron"] = nltk_perceptron(splits["train"], args.nltk_iterations)
    if not args.no_spacy:
        run, extra = spacy_peer.spacy_tagger(splits["train"], splits["dev"], args)
        runners[f"spaCy {extra['spacy']} tagger (CPU 1 thread, batch {extra['pipe_batch_size']})"] = run, extra
    rows = {}
    for label, (run, extra) in runners.items():
        predicted = run(tokens)  # also the warm-up
        rows[label] = {"model": label, "accuracy": token_accuracy(test.labels, predicted),
                       "oov_accuracy": token_accuracy(test.labels, predicted, oov), "seconds_each": [], **extra}
    for _ in range(args.repeats):  # interleaved, so a busy moment of the machine is shared by all
        for label, (run, _) in runners.items():
            start = time.perf_counter()
            run(tokens)
            rows[label]["seconds_each"].append(time.perf_counter() - start)
    nltk = rows["NLTK averaged perceptron"]
    for r in rows.values():
        r["seconds"] = float(np.median(r["seconds_each"]))
        r["items_per_s"] = n_tokens / r["seconds"]
    for r in rows.values():
        r["vs_nltk"] = r["items_per_s"] / nltk["items_per_s"]
        if "flops_per_token" in r:
            r["matmul_share"] = r["flops_per_token"] * r["items_per_s"] / (r["matmul_gflops"] * 1e9)
    share = sum(map(sum, oov)) / n_tokens
    return {"task": "tagging", "data": "brown-upos:test", "items": n_tokens, "unit": "tokens",
            "sentences": len(tokens), "oov_share": share, "exports": [str(f) for f in folders],
            "rows": list(rows.values())}


def compare_classification(folder: Path, args) -> dict:
    from pipeline.data.datasets import load_dataset
    from pipeline.runtime.session import Classifier

    info = _export_info(folder, "classification")
    splits = load_dataset("mr")
    test = splits["test"]
    texts = [list(t) for t in test.tokens]
    rnnx = Classifier.load(folder, threads=1)
    print("training TF-IDF uni+bigram logistic regression on mr train (C chosen on dev) ...", flush=True)
    runners = {f"rnnx {info['name']} (ORT 1 thread, batch {args.batch_size})":
               (lambda ts: [label for label, _ in rnnx.predict_tokens(ts, args.batch_size)],
                {"engine": info.get("engine")}),
               "TF-IDF uni+bigram logistic regression": tfidf_lr(splits["train"], splits["dev"])}
    rows = []
    for label, (run, extra) in runners.items():
        run(texts[:64])
        seconds, predicted = best_of(lambda: run(texts), args.repeats)
        acc = accuracy(test.labels, predicted, task="classification")
        rows.append({"model": label, "accuracy": acc, "seconds": seconds, "items_per_s": len(texts) / seconds,
                     **extra})
    return {"task": "classification", "data": "mr:test", "items": len(texts), "unit": "texts",
            "export": str(folder), "rows": rows}


def markdown(results: list[dict]) -> str:
    lines = []
    for res in results:
        oov = res["task"] == "tagging"
        head = ["model", "test accuracy %"] + ([f"OOV accuracy % ({100 * res['oov_share']:.1f}% of tokens)"]
                                              if oov else []) + [f"{res['unit']}/s", "seconds", "train s"]
        if oov:
            head += ["x NLTK", "batch 1 p50 ms", "MatMul share"]
        lines += [f"\n{res['data']} ({res['items']:,} {res['unit']})\n",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in res["rows"]:
            cells = [r["model"], f"{100 * r['accuracy']:.2f}"]
            if oov:
                cells.append(f"{100 * r['oov_accuracy']:.2f}" if r["oov_accuracy"] is not None else "-")
            train_s = r.get("train_seconds")
            cells += [f"{r['items_per_s']:,.0f}", f"{r['seconds']:.2f}", f"{train_s:.0f}" if train_s else "-"]
            if oov:
                cells += [f"{r['vs_nltk']:.2f}", f"{r['batch1_p50_ms']:.3f}" if "batch1_p50_ms" in r else "-",
                          f"{100 * r['matmul_share']:.0f}%" if "matmul_share" in r else "-"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  .venv/bin/python benchmarks/peers.py --tagger export/brown-upos-bilstm "
               "--classifier export/mr-bilstm")
    parser.add_argument("--tagger", type=Path, action="append",
                        help="an rnnx export folder of a brown-upos tagger (repeat for several; an export's "
                             "model.int8.onnx gets its own row)")
    parser.add_argument("--classifier", type=Path, help="an rnnx export folder of an mr classifier")
    parser.add_argument("--batch-size", type=int, default=32, help="rnnx batch size (default 32)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per model (taggers: interleaved rounds, the median is kept; classifiers: "
                             "the fastest)")
    parser.add_argument("--nltk-iterations", type=int, default=5, help="perceptron training passes (default 5)")
    parser.add_argument("--no-spacy", action="store_true", help="leave spaCy's tagger out of the tagging table")
    parser.add_argument("--spacy-model", type=Path, default=spacy_peer.DEFAULT_MODEL_DIR,
                        help="folder caching spaCy's trained tagger; trained there when missing (default %(default)s)")
    parser.add_argument("--spacy-batch-size", type=int, default=None,
                        help="nlp.pipe batch size (default: spaCy's own, the pipeline's nlp.batch_size, 1000)")
    parser.add_argument("--spacy-max-steps", type=int, default=None, help="training.max_steps (default: spaCy's own)")
    parser.add_argument("--spacy-patience", type=int, default=None, help="training.patience (default: spaCy's own)")
    parser.add_argument("--out", type=Path, default=Path("export/peers.json"), help="JSON report path")
    args = parser.parse_args(argv)
    if args.tagger is None and args.classifier is None:
        parser.error("give --tagger EXPORT and/or --classifier EXPORT")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    results = []
    if args.tagger is not None:
        results.append(compare_tagging(args.tagger, args))
    if args.classifier is not None:
        results.append(compare_classification(args.classifier, args))
    import onnxruntime

    report = {"cpu_count": os.cpu_count(), "onnxruntime": onnxruntime.__version__, "ort_threads": 1,
              "batch_size": args.batch_size, "repeats": args.repeats, "results": results}
    print(markdown(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
