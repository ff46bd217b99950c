"""Probabilities to labels: the most probable label, or a CRF's Viterbi path (numpy only).

A tagger's probabilities are ``[time, labels]`` per sequence, a classifier's
``[labels]`` per text; ``names`` are the label strings by id.

>>> import numpy as np
>>> argmax_labels([np.array([[0.9, 0.1], [0.2, 0.8]])], ["A", "B"], "tagging")
[['A', 'B']]
>>> argmax_labels([np.array([0.3, 0.7])], ["neg", "pos"], "classification")
['pos']
>>> viterbi(np.full((1, 2, 2), 0.5, np.float32), [2], np.array([[0, 1], [0, 0]], np.float32),
...         np.zeros(2, np.float32), np.zeros(2, np.float32))
array([[0, 1]])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["EMISSION_FLOOR", "argmax_label", "argmax_labels", "path_labels", "viterbi", "viterbi_labels"]

#: CRF emissions are ``log(max(probs, EMISSION_FLOOR))`` (in Keras, numpy and the ONNX graph alike).
EMISSION_FLOOR = 1e-7


def argmax_label(probs: np.ndarray, names: Sequence[str], task: str):
    """The labels of one sequence (tagging: a list, one per token) or one text (classification: a string).

    >>> argmax_label(np.array([[0.9, 0.1]]), ["A", "B"], "tagging"), argmax_label(np.array([0.1, 0.9]), ["A", "B"], "x")
    (['A'], 'B')
    """
    return [names[i] for i in probs.argmax(-1)] if task == "tagging" else names[int(probs.argmax(-1))]


def argmax_labels(probs: Sequence[np.ndarray], names: Sequence[str], task: str) -> list:
    """:func:`argmax_label` of every sequence or text."""
    return [argmax_label(p, names, task) for p in probs]


def path_labels(paths: Sequence[Sequence[int]], names: Sequence[str]) -> list[list[str]]:
    """Label ids (e.g. Viterbi paths) to label strings.

    >>> path_labels([np.array([1, 0])], ["A", "B"])
    [['B', 'A']]
    """
    return [[names[int(i)] for i in path] for path in paths]


def viterbi(probs, lengths, transitions, start, end) -> np.ndarray:
    """int64 ``[batch, time]``: the best tag path of each row; padded positions (and rows of length 0) are 0.

    float32 arithmetic in the order of the ONNX graph: ``e = log(max(p, floor))``;
    ``score_0 = e_0 + start``; ``score_t[j] = max_i(score_{t-1}[i] + transitions[i, j]) + e_t[j]``;
    final ``score_{len-1} + end``; ties go to the lowest index.
    """
    p = np.asarray(probs, np.float32)
    if p.ndim != 3:
        raise ValueError(f"viterbi takes probs [batch, time, labels]; got shape {p.shape}")
    batch, time, labels = p.shape
    lengths = np.asarray(lengths, np.int64).reshape(-1)
    if lengths.shape != (batch,) or (lengths < 0).any() or (lengths > time).any():
        raise ValueError(f"lengths must be {batch} values in [0, {time}], got {lengths.tolist()}")
    trans, start, end = (np.asarray(w, np.float32) for w in (transitions, start, end))
    if trans.shape != (labels, labels) or start.shape != (labels,) or end.shape != (labels,):
        raise ValueError(f"CRF weights have shapes {trans.shape}, {start.shape}, {end.shape}; probs have "
                         f"{labels} labels")
    e = np.log(np.maximum(p, np.float32(EMISSION_FLOOR)))
    score = np.zeros((batch, labels), np.float32)
    pointers = np.zeros((time, batch, labels), np.int64)
    identity = np.arange(labels, dtype=np.int64)
    for t in range(time):
        cand = score[:, :, None] + trans[None, :, :]                   # [B, i, j]
        best = cand.argmax(axis=1)
        new = start + e[:, t] if t == 0 else np.take_along_axis(cand, best[:, None, :], axis=1)[:, 0] + e[:, t]
        live = (t < lengths)[:, None]
        score = np.where(live, new, score)
        pointers[t] = np.where(live, best, identity)
    tag = (score + end).argmax(axis=1)
    tags = np.zeros((batch, time), np.int64)
    rows = np.arange(batch)
    for t in range(time - 1, -1, -1):
        tags[:, t] = tag
        tag = pointers[t][rows, tag]
    tags[np.arange(time)[None, :] >= lengths[:, None]] = 0
    return tags


def viterbi_labels(probs: Sequence[np.ndarray], names: Sequence[str], transitions, start, end) -> list[list[str]]:
    """The Viterbi path of each ``[time, labels]`` array, as label strings.

    >>> viterbi_labels([np.full((2, 2), 0.5, np.float32)], ["A", "B"], np.array([[0, 1], [0, 0]], np.float32),
    ...                np.zeros(2, np.float32), np.zeros(2, np.float32))
    [['A', 'B']]
    """
    return path_labels((viterbi(p[None], [len(p)], transitions, start, end)[0] for p in probs), names)
