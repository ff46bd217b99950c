"""Question 2: "They are early birds" vs "They are early today".

A unidirectional tagger computes ``h_i`` from ``x_1..x_i`` only, so its output for
"early" cannot depend on the word after it: the probabilities at the prefix
positions must be *bit-for-bit* equal whatever follows. A bidirectional tagger
also reads the sentence backwards, so its output for "early" may change.

:func:`prefix_difference` measures that on any ``ids[1, time] -> probs`` function
(Keras or ONNX Runtime); :func:`sentence_pair` runs both lecture sentences through
a trained tagger's Keras model and its fused ONNX export.

>>> import numpy as np
>>> causal = lambda ids: np.cumsum(ids, axis=1)[..., None].astype("float32")  # depends on the prefix only
>>> prefix_difference(causal, [3, 4], [5], [6, 7])
0.0
>>> lookahead = lambda ids: (ids + np.roll(ids, -1, axis=1))[..., None].astype("float32")
>>> prefix_difference(lookahead, [3, 4], [5], [6, 7])
1.0
>>> from pipeline.data.corpus import Split
>>> gold_usage(Split("tagging", [["an", "early", "bird"], ["Early", "."]], [["DET", "ADJ", "NOUN"], ["ADV", "."]]),
...            "early")
{'before NOUN': {'ADJ': 1}, 'elsewhere': {'ADV': 1}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from pipeline.scoring.decode import argmax_labels

SENTENCES = (
    ("They", "are", "early", "birds", "."),
    ("They", "are", "early", "today", "."),
)
FOCUS = 2  # "early"

ProbsFn = Callable[[np.ndarray], np.ndarray]  # int64 ids[batch, time] -> probs[batch, time, labels]


def prefix_probs(fn: ProbsFn, prefix: Sequence[int], suffix: Sequence[int], width: int | None = None) -> np.ndarray:
    """``fn``'s probabilities at the prefix positions of ``prefix + suffix`` (batch 1).

    ``width`` right-pads the row with 0 so that sequences being compared have one
    shape: a matrix kernel of another shape may round differently (a GEMV for one
    time step, ~3e-8), which says nothing about what the model reads.
    """
    row = list(prefix) + list(suffix)
    ids = np.zeros((1, max(width or 0, len(row))), dtype=np.int64)
    ids[0, : len(row)] = row
    return np.asarray(fn(ids))[0, : len(prefix)]


def prefix_difference(fn: ProbsFn, prefix: Sequence[int], suffix_a: Sequence[int], suffix_b: Sequence[int]) -> float:
    """Max |difference| of the prefix positions' probabilities under two suffixes (0.0: bit-identical)."""
    width = len(prefix) + max(len(suffix_a), len(suffix_b))
    a = prefix_probs(fn, prefix, suffix_a, width)
    b = prefix_probs(fn, prefix, suffix_b, width)
    if np.array_equal(a, b):
        return 0.0
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def gold_usage(split, word: str, next_tag: str = "NOUN") -> dict:
    """How ``word`` (any case) is tagged in ``split`` before a ``next_tag`` token and elsewhere."""
    from collections import Counter

    counts = {f"before {next_tag}": Counter(), "elsewhere": Counter()}
    low = word.lower()
    for toks, tags in zip(split.tokens, split.labels):
        for i, w in enumerate(toks):
            if w.lower() == low:
                key = f"before {next_tag}" if i + 1 < len(tags) and tags[i + 1] == next_tag else "elsewhere"
                counts[key][tags[i]] += 1
    return {k: dict(c.most_common()) for k, c in counts.items()}


def _token_view(probs: np.ndarray, names: list[str], top: int = 3) -> dict:
    order = np.argsort(-probs)[:top]
    return {"tag": names[int(order[0])], "prob": float(probs[order[0]]),
            "top": [[names[int(i)], float(probs[i])] for i in order]}


def sentence_pair(run_path: Path | str, export_path: Path | str, sentences=SENTENCES, focus: int = FOCUS) -> dict:
    """Both sentences through a trained tagger, on Keras and on the fused ONNX model.

    Per engine: every token's predicted tag, the focus word's top-3 distribution in
    each sentence, and the max |difference| over the shared-prefix positions
    ``0..focus`` (``prefix_identical`` when it is exactly 0).
    """
    from pipeline.runtime.session import make_session
    from pipeline.train.evaluate import keras_batch_fn
    from pipeline.train.rundir import load_run

    run = load_run(run_path)
    if run.task != "tagging":
        raise ValueError(f"{run_path} is a {run.task} run; the sentence pair needs a tagger")
    names = run.labels.names
    sess = make_session(Path(export_path) / "model.onnx", threads=1)
    input_name = sess.get_inputs()[0].name
    engines: dict[str, ProbsFn] = {
        "onnx": lambda ids: sess.run(None, {input_name: ids})[0],
        "keras": keras_batch_fn(run.model),
    }
    ids = [run.vocab.encode(s) for s in sentences]
    prefix, suffixes = ids[0][: focus + 1], [s[focus + 1:] for s in ids]
    out = {
        "name": Path(run_path).name,
        "cell": run.model_config.cell,
        "bidirectional": run.model_config.bidirectional,
        "sentences": [list(s) for s in sentences],
        "focus": focus,
        "unknown_words": sorted({w for s in sentences for w in s if w not in run.vocab}),
        "engines": {},
    }
    probs_by_engine = {}
    for engine, fn in engines.items():
        probs = [np.asarray(fn(np.asarray([s], dtype=np.int64)))[0] for s in ids]
        probs_by_engine[engine] = probs
        out["engines"][engine] = {
            "tags": argmax_labels(probs, names, "tagging"),
            "focus": [_token_view(p[focus], names) for p in probs],
            "prefix_max_abs_diff": prefix_difference(fn, prefix, suffixes[0], suffixes[1]),
        }
        out["engines"][engine]["prefix_identical"] = out["engines"][engine]["prefix_max_abs_diff"] == 0.0
    out["onnx_vs_keras_max_abs_diff"] = float(max(
        np.abs(a - b).max() for a, b in zip(probs_by_engine["onnx"], probs_by_engine["keras"])))
    return out
