"""Classic peers the experiment measures rnnx against, trained on the experiment's own splits.

* :func:`nltk_perceptron` -- NLTK's averaged perceptron POS tagger (``PerceptronTagger(load=False)``,
  5 passes by default, NLTK's own default), trained on a tagging split;
* :func:`crf_tagger` -- a linear-chain CRF (sklearn-crfsuite: CRFsuite, L-BFGS, elastic net) over
  hand-made word features (:func:`word_features`: the word lowercased, its shape and short shape,
  prefixes and suffixes of 1-4 characters, is-title / is-upper / is-digit / has-hyphen, the same
  for the words at -2..+2, BOS/EOS marks), the classic NER baseline;
* :func:`tfidf_logreg` -- scikit-learn TF-IDF + logistic regression over lowercased unigrams and
  bigrams (:func:`grams`), C chosen on a dev split from :data:`C_GRID`;
* :func:`majority_share` -- the share of a split's most frequent label.

Every trainer returns ``(predict, info)``: ``predict`` maps a list of token lists to label
strings (tagging: a list per sentence), ``info`` says how it was trained. NLTK, sklearn-crfsuite
and scikit-learn are imported when a trainer runs (the ``peers`` and ``test`` extras); without
them a trainer raises a one-line :class:`~pipeline.errors.RnnxError`. The benchmark scripts
(``benchmarks/ner_peer.py``, ``benchmarks/out_of_domain.py``, ``benchmarks/peers.py``) use these.

>>> shape("McDonald's"), short_shape("McDonald's")
("XxXxxxxx'x", "XxXx'x")
>>> grams(["Not", "bad"])
['not', 'bad', 'not bad']
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter

from pipeline.errors import RnnxError

#: regularisation strengths the TF-IDF logistic regression picks from on dev
C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
INSTALL = "pip install -e '.[peers]'"


def _missing(what: str) -> RnnxError:
    return RnnxError(f"{what} is not installed; it is not an rnnx dependency: .venv/bin/{INSTALL}")


def require_peers() -> None:
    """Raise a one-line error naming what is missing when NLTK, sklearn-crfsuite or scikit-learn is not installed
    (the experiment checks before it trains anything, not an hour in)."""
    import importlib.util

    missing = [name for name, module in (("NLTK", "nltk"), ("sklearn-crfsuite", "sklearn_crfsuite"),
                                         ("scikit-learn", "sklearn")) if importlib.util.find_spec(module) is None]
    if missing:
        raise RnnxError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed; the experiment's "
                        f"peers need them: .venv/bin/{INSTALL} (or make experiment, which installs the test extra)")


# ----------------------------------------------------------------------------- NLTK's averaged perceptron


def nltk_perceptron(train, iterations: int = 5, seed: int = 0):
    """NLTK's averaged perceptron trained on the tagging split ``train`` (``iterations`` passes)."""
    try:
        from nltk.tag.perceptron import PerceptronTagger
    except ImportError:
        raise _missing("NLTK") from None
    random.seed(seed)  # the perceptron shuffles the sentences between passes
    tagger = PerceptronTagger(load=False)
    started = time.perf_counter()
    tagger.train([list(zip(toks, tags)) for toks, tags in zip(train.tokens, train.labels)], nr_iter=iterations)
    train_s = time.perf_counter() - started

    def predict(sentences):
        return [[tag for _, tag in sent] for sent in tagger.tag_sents([list(s) for s in sentences])]

    return predict, {"iterations": iterations, "train_seconds": train_s}


# ----------------------------------------------------------------------------- CRF with hand-made features


def shape(word: str) -> str:
    """``Xxxx-dd`` style: upper -> X, lower -> x, digit -> d, anything else kept.

    >>> shape("1996-08-22")
    'dddd-dd-dd'
    """
    return re.sub(r"[0-9]", "d", re.sub(r"[a-z]", "x", re.sub(r"[A-Z]", "X", word)))


def short_shape(word: str) -> str:
    """The shape with repeats collapsed: ``Xxxx`` -> ``Xx``."""
    return re.sub(r"(.)\1+", r"\1", shape(word))


def word_features(sent: list[str], i: int) -> dict:
    """The CRF features of token ``i`` of ``sent``.

    >>> f = word_features(["EU", "rejects", "German"], 0)
    >>> f["w"], f["shape"], f["upper"], f["BOS"], f["+1:w"], "-1:w" in f
    ('eu', 'XX', True, True, 'rejects', False)
    """
    w = sent[i]
    low = w.lower()
    f = {
        "bias": 1.0, "w": low, "shape": shape(w), "sshape": short_shape(w),
        "title": w.istitle(), "upper": w.isupper(), "digit": w.isdigit(), "hyphen": "-" in w,
    }
    for k in range(1, 5):
        f[f"p{k}"] = low[:k]
        f[f"s{k}"] = low[-k:]
    for off in (-2, -1, 1, 2):
        j = i + off
        if 0 <= j < len(sent):
            o = sent[j]
            f.update({f"{off:+d}:w": o.lower(), f"{off:+d}:sshape": short_shape(o),
                      f"{off:+d}:title": o.istitle(), f"{off:+d}:upper": o.isupper()})
    if i == 0:
        f["BOS"] = True
    if i == len(sent) - 1:
        f["EOS"] = True
    return f


def sentence_features(sent: list[str]) -> list[dict]:
    return [word_features(sent, i) for i in range(len(sent))]


def new_crf(c1: float, c2: float, iterations: int):
    """An untrained sklearn-crfsuite CRF (L-BFGS, every transition allowed)."""
    try:
        import sklearn_crfsuite
    except ImportError:
        raise _missing("sklearn-crfsuite") from None
    return sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=iterations,
                                all_possible_transitions=True)


def crf_tagger(train, *, c1: float, c2: float, iterations: int = 100):
    """A CRF over :func:`word_features` trained on the tagging split ``train``."""
    started = time.perf_counter()
    xs = [sentence_features(s) for s in train.tokens]
    feature_s = time.perf_counter() - started
    crf = new_crf(c1, c2, iterations)
    started = time.perf_counter()
    crf.fit(xs, train.labels)
    train_s = time.perf_counter() - started

    def predict(sentences):
        return crf.predict([sentence_features(list(s)) for s in sentences])

    return predict, {"model": f"sklearn-crfsuite CRF (lbfgs, c1={c1}, c2={c2}, {iterations} iterations)",
                     "c1": c1, "c2": c2, "iterations": iterations, "train_seconds": train_s,
                     "feature_seconds": feature_s}


# ----------------------------------------------------------------------------- TF-IDF + logistic regression


def grams(tokens: list[str]) -> list[str]:
    """Lowercased unigrams, then bigrams, of one text's tokens."""
    low = [t.lower() for t in tokens]
    return low + [f"{a} {b}" for a, b in zip(low, low[1:])]


def tfidf_logreg(train, dev, *, defaults: bool = False):
    """scikit-learn TF-IDF + logistic regression, C chosen on ``dev``: :func:`grams` of the tokens, or
    (``defaults``) ``TfidfVectorizer()`` as it comes (unigrams) on the space-joined tokens."""
    try:
        import sklearn
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise _missing("scikit-learn") from None
    started = time.perf_counter()
    if defaults:
        vectorizer = TfidfVectorizer(preprocessor=lambda toks: " ".join(toks).lower())
    else:
        vectorizer = TfidfVectorizer(analyzer=grams)
    X = vectorizer.fit_transform(train.tokens)
    Xd = vectorizer.transform(dev.tokens)
    dev_acc, best = {}, None
    for C in C_GRID:
        model = LogisticRegression(C=C, max_iter=2000).fit(X, train.labels)
        dev_acc[C] = float((model.predict(Xd) == dev.labels).mean())
        if best is None or dev_acc[C] > dev_acc[best.C]:
            best = model

    def predict(texts):
        return [str(label) for label in best.predict(vectorizer.transform([list(t) for t in texts]))]

    return predict, {"scikit_learn": sklearn.__version__, "features": len(vectorizer.vocabulary_), "C": best.C,
                     "dev_accuracy_by_C": dev_acc, "train_seconds": time.perf_counter() - started}


def majority_share(split) -> tuple[str, float]:
    """The most frequent label of a classification split and its share.

    >>> from pipeline.data.corpus import Split
    >>> majority_share(Split("classification", [["a"], ["b"], ["c"]], ["pos", "neg", "pos"]))
    ('pos', 0.6666666666666666)
    """
    label, n = Counter(split.labels).most_common(1)[0]
    return label, n / len(split.labels)
