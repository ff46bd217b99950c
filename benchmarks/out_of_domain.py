"""Out-of-domain accuracy: rnnx runs trained on one corpus, scored on another, beside classic peers.

* **POS**: every ``--tagger`` run (a ``saved_models/`` folder trained on ``brown-upos``) on the
  ``ewt-upos`` test split (UD English Web Treebank, mapped to Brown's 12-tag conventions, see
  :mod:`pipeline.data.ewt`), beside NLTK's averaged perceptron trained here on the
  brown-upos **train** split (``benchmarks/peers.py``'s function, 5 passes). Each model gets its
  accuracy, its accuracy on the tokens whose exact form never occurs in brown-upos train
  (the same tokens for every model), its accuracy on the tokens outside its own vocabulary
  (rnnx runs), its accuracy on the tokens whose gold tag is not ``.`` (punctuation holds most of
  the convention gaps: straight quotes Brown never has, ``-`` that Brown tags ADP, emoticons),
  and its most frequent confusions; the brown-upos test accuracy beside them
  (rnnx runs: from the run's ``metrics.json``; NLTK: scored here).
* **Sentiment**: every ``--classifier`` run (trained on ``mr``) on the ``amazon-sentiment``,
  ``tweets-sentiment`` and ``nyt-sentiment`` test sets (the other human-rated sets of the
  VADER study, same label rule and tokenizer as ``mr``) and on mr test, beside
  TF-IDF + logistic regression trained on mr train with C chosen on mr dev, three ways:
  scikit-learn's ``TfidfVectorizer`` + ``LogisticRegression`` on unigrams+bigrams of the
  lowercased corpus tokens, the same with ``TfidfVectorizer``'s defaults (unigrams, its own
  token pattern over the space-joined tokens), and ``benchmarks/peers.py``'s numpy version of
  the first (the peers table's row) -- out of domain these differ by several points, so one
  TF-IDF figure says little on its own; and the majority label of each target set (computed
  on that set itself, an upper bound of what "always say the same label" gets there).

Keras runs predict through :func:`pipeline.train.evaluate.predict_probs` (CRF taggers decode
with Viterbi), the numbers ``rnnx evaluate RUN --data NAME`` prints. NLTK is not an rnnx
dependency, nor is scikit-learn (``.venv/bin/pip install -e '.[peers]'``; without scikit-learn
its row is left out with a note)::

    nice -n 10 .venv/bin/python benchmarks/out_of_domain.py \\
        --tagger saved_models/brown-upos-bilstm --tagger saved_models/pos-cnn-crf-u96 \\
        --classifier saved_models/mr-bilstm

Prints markdown tables; writes the JSON report to ``--out`` (default
``benchmarks/results/out_of_domain.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.artifacts import write_json  # noqa: E402
from pipeline.scoring.accuracy import accuracy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (NLTK's perceptron and the TF-IDF logistic regression, as in the peers table)

POS_TARGET = "ewt-upos"
SENTIMENT_TARGETS = ("amazon-sentiment", "tweets-sentiment", "nyt-sentiment")


def confusions(gold, predicted, top: int = 8) -> list[dict]:
    """The ``top`` most frequent (gold, predicted) pairs with gold != predicted."""
    pairs = Counter((g, p) for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps) if g != p)
    return [{"gold": g, "predicted": p, "count": n} for (g, p), n in pairs.most_common(top)]


def keras_predictor(folder: Path, task: str):
    """:func:`pipeline.experiment.charlm.keras_predictor` (the experiment's), exiting on a run of another task."""
    from pipeline.errors import RnnxError
    from pipeline.experiment.charlm import keras_predictor as predictor

    try:
        return predictor(folder, task)
    except RnnxError as e:
        sys.exit(str(e))


def compare_tagging(folders: list[Path], args) -> dict:
    from pipeline.data.datasets import load_dataset

    brown = load_dataset("brown-upos")
    target = load_dataset(POS_TARGET)["test"]
    seen = {w for toks in brown["train"].tokens for w in toks}
    unseen = [[w not in seen for w in toks] for toks in target.tokens]
    # gold "." tokens hold most of the convention gaps (straight quotes, "-" that Brown tags ADP, emoticons)
    words = [[t != "." for t in tags] for tags in target.labels]
    n_tokens = target.num_tokens
    rows = []
    for folder in folders:
        predict, run = keras_predictor(folder, "tagging")
        if run.config.get("data") != "brown-upos":
            print(f"note: {folder} was trained on {run.config.get('data')}, not brown-upos", flush=True)
        started = time.perf_counter()
        predicted = predict(target)
        seconds = time.perf_counter() - started
        vocab = run.vocab
        oov = [[w not in vocab for w in toks] for toks in target.tokens]
        metrics = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
        rows.append({
            "model": f"rnnx {run.files.root.name}", "run": str(folder), "trained_on": run.config.get("data"),
            "model_config": run.config.get("model"),
            "brown_test_accuracy": metrics.get("test", {}).get("accuracy"),
            "accuracy": accuracy(target.labels, predicted),
            "unseen_accuracy": accuracy(target.labels, predicted, keep=unseen, empty=None),
            "accuracy_without_punctuation": accuracy(target.labels, predicted, keep=words),
            "run_oov_share": sum(map(sum, oov)) / n_tokens,
            "run_oov_accuracy": accuracy(target.labels, predicted, keep=oov, empty=None),
            "seconds": seconds, "confusions": confusions(target.labels, predicted),
        })
        print(f"{rows[-1]['model']}: {100 * rows[-1]['accuracy']:.2f}% on {POS_TARGET} test", flush=True)
    print(f"training NLTK's averaged perceptron on brown-upos train ({brown['train'].num_tokens:,} tokens, "
          f"{args.nltk_iterations} passes) ...", flush=True)
    predict, extra = peers.nltk_perceptron(brown["train"], args.nltk_iterations)
    brown_test = [list(t) for t in brown["test"].tokens]
    started = time.perf_counter()
    predicted = predict([list(t) for t in target.tokens])
    seconds = time.perf_counter() - started
    rows.append({
        "model": "NLTK averaged perceptron", "trained_on": "brown-upos", **extra,
        "brown_test_accuracy": accuracy(brown["test"].labels, predict(brown_test)),
        "accuracy": accuracy(target.labels, predicted),
        "unseen_accuracy": accuracy(target.labels, predicted, keep=unseen, empty=None),
        "accuracy_without_punctuation": accuracy(target.labels, predicted, keep=words),
        "seconds": seconds, "confusions": confusions(target.labels, predicted),
    })
    return {"task": "tagging", "data": f"{POS_TARGET}:test", "trained_on": "brown-upos:train",
            "sentences": len(target), "tokens": n_tokens,
            "unseen_in_brown_train_share": sum(map(sum, unseen)) / n_tokens,
            "gold_labels": target.label_counts(), "rows": rows}


def sklearn_tfidf_lr(train, dev, defaults: bool = False):
    """:func:`pipeline.experiment.peers.tfidf_logreg` (the experiment's TF-IDF peer), or None when
    scikit-learn is not installed."""
    from pipeline.errors import RnnxError
    from pipeline.experiment.peers import tfidf_logreg

    try:
        return tfidf_logreg(train, dev, defaults=defaults)
    except RnnxError:
        print("note: scikit-learn is not installed; its TF-IDF row is left out (.venv/bin/pip install scikit-learn)")
        return None


def compare_classification(folders: list[Path], args) -> dict:
    from pipeline.data.datasets import load_dataset

    mr = load_dataset("mr")
    targets = {"mr": mr["test"], **{name: load_dataset(name)["test"] for name in args.sentiment}}
    sizes = {}
    for name, split in targets.items():
        counts = split.label_counts()
        label, n = next(iter(counts.items()))
        sizes[name] = {"texts": len(split), "labels": counts, "majority_label": label,
                       "majority_share": n / len(split), "dropped_neutral": split.meta.get("dropped_neutral")}
    runners = {}
    for folder in folders:
        predict, run = keras_predictor(folder, "classification")
        runners[f"rnnx {run.files.root.name}"] = (predict, {"run": str(folder), "trained_on": run.config.get("data"),
                                                            "model_config": run.config.get("model")})
    print("training TF-IDF uni+bigram logistic regressions on mr train (C chosen on mr dev) ...", flush=True)
    for defaults, label in ((False, "scikit-learn TF-IDF uni+bigram + LogisticRegression"),
                            (True, "scikit-learn TfidfVectorizer() defaults (unigrams) + LogisticRegression")):
        sk = sklearn_tfidf_lr(mr["train"], mr["dev"], defaults)
        if sk is not None:
            runners[label] = (lambda split, f=sk[0]: f([list(t) for t in split.tokens]), {"trained_on": "mr", **sk[1]})
    tfidf, info = peers.tfidf_lr(mr["train"], mr["dev"])
    runners["TF-IDF uni+bigram logistic regression (numpy, peers.py)"] = (
        lambda split: tfidf([list(t) for t in split.tokens]), {"trained_on": "mr", **info})
    rows = []
    for label, (predict, extra) in runners.items():
        acc = {name: accuracy(split.labels, predict(split), task="classification") for name, split in targets.items()}
        rows.append({"model": label, "accuracy": acc, **extra})
        print(f"{label}: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in acc.items()), flush=True)
    rows.append({"model": "majority label of each target set (computed on that set)",
                 "accuracy": {name: s["majority_share"] for name, s in sizes.items()}})
    return {"task": "classification", "trained_on": "mr:train", "targets": sizes, "rows": rows}


def markdown(results: list[dict]) -> str:
    lines = []
    for res in results:
        if res["task"] == "tagging":
            lines += [f"\n{res['data']} ({res['tokens']:,} tokens, {res['sentences']:,} sentences; "
                      f"{100 * res['unseen_in_brown_train_share']:.1f}% of them unseen in {res['trained_on']})\n",
                      "| model | brown-upos test % | EWT test % | EWT without punctuation % | EWT unseen-in-Brown % "
                      "| EWT own-OOV % (share) |",
                      "|---|---|---|---|---|---|"]
            for r in res["rows"]:
                own = (f"{100 * r['run_oov_accuracy']:.2f} ({100 * r['run_oov_share']:.1f}%)"
                       if r.get("run_oov_accuracy") is not None else "-")
                lines.append(f"| {r['model']} | {100 * r['brown_test_accuracy']:.2f} | {100 * r['accuracy']:.2f} | "
                             f"{100 * r['accuracy_without_punctuation']:.2f} | {100 * r['unseen_accuracy']:.2f} | "
                             f"{own} |")
        else:
            names = list(res["targets"])
            lines += ["\nsentiment, trained on " + res["trained_on"] + " (accuracy %; texts: " +
                      ", ".join(f"{n} {res['targets'][n]['texts']:,}" for n in names) + ")\n",
                      "| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
            for r in res["rows"]:
                lines.append(f"| {r['model']} | " + " | ".join(f"{100 * r['accuracy'][n]:.1f}" for n in names) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  .venv/bin/python benchmarks/out_of_domain.py --tagger saved_models/brown-upos-bilstm "
               "--classifier saved_models/mr-bilstm")
    parser.add_argument("--tagger", type=Path, action="append", help="a saved_models/ run trained on brown-upos "
                                                                      "(repeat for several)")
    parser.add_argument("--classifier", type=Path, action="append", help="a saved_models/ run trained on mr "
                                                                          "(repeat for several)")
    parser.add_argument("--sentiment", nargs="+", default=list(SENTIMENT_TARGETS), choices=SENTIMENT_TARGETS,
                        help="sentiment target sets (default: all three)")
    parser.add_argument("--nltk-iterations", type=int, default=5, help="perceptron training passes (default 5)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/out_of_domain.json"),
                        help="JSON report path (default %(default)s)")
    args = parser.parse_args(argv)
    if args.tagger is None and args.classifier is None:
        parser.error("give --tagger RUN and/or --classifier RUN")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    results = []
    if args.tagger is not None:
        results.append(compare_tagging(args.tagger, args))
    if args.classifier is not None:
        results.append(compare_classification(args.classifier, args))
    report = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "results": results}
    print(markdown(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report)
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
