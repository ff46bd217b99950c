"""Accuracy of predicted label lists against gold ones (numpy only).

Taggers are scored per token (``gold``/``predicted`` are lists of label lists),
classifiers per text. Pairs are formed with ``zip``, as everywhere in rnnx: a
prediction list cut short scores only the items it has.

>>> accuracy([["A", "B"], ["A"]], [["A", "A"], ["A"]])
0.6666666666666666
>>> accuracy(["pos", "neg"], ["pos", "pos"], task="classification")
0.5
>>> accuracy([["A", "B"]], [["A", "A"]], keep=[[False, True]])
0.0
>>> accuracy([], [], empty=None) is None
True
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["accuracy", "correct_counts"]


def accuracy(gold: Sequence, predicted: Sequence, *, task: str = "tagging", keep: Sequence | None = None,
             empty: float | None = 0.0) -> float | None:
    """Share of correct labels; ``keep`` (gold's shape, booleans) restricts it to some of them.

    ``empty`` is returned when nothing is scored (no items, or ``keep`` keeps none).
    """
    right = total = 0
    if task == "tagging":
        for k, (gs, ps) in enumerate(zip(gold, predicted)):
            for j, (g, p) in enumerate(zip(gs, ps)):
                if keep is None or keep[k][j]:
                    total += 1
                    right += g == p
    else:
        for k, (g, p) in enumerate(zip(gold, predicted)):
            if keep is None or keep[k]:
                total += 1
                right += g == p
    return right / total if total else empty


def correct_counts(paths: Sequence, gold: Sequence, names: Sequence[str], task: str) -> tuple[np.ndarray, np.ndarray]:
    """Per item: (correct labels, labels scored), from predicted label ids and gold label strings.

    A gold label missing from ``names`` (unseen in training) never counts as correct.

    >>> c, w = correct_counts([np.array([0, 1])], [["A", "C"]], ["A", "B"], "tagging")
    >>> c.tolist(), w.tolist()
    ([1], [2])
    >>> c, w = correct_counts([1, 0], ["B", "B"], ["A", "B"], "classification")
    >>> c.tolist(), w.tolist()
    ([1, 0], [1, 1])
    """
    index: Mapping[str, int] = {n: i for i, n in enumerate(names)}
    if task == "tagging":
        gold_ids = [np.asarray([index.get(t, -1) for t in tags]) for tags in gold]
        correct = np.asarray([int((np.asarray(p) == g).sum()) for p, g in zip(paths, gold_ids)], dtype=np.int64)
        weight = np.asarray([len(g) for g in gold_ids], dtype=np.int64)
    else:
        correct = np.asarray([int(int(p) == index.get(g, -1)) for p, g in zip(paths, gold)])
        weight = np.ones(len(gold), dtype=np.int64)
    return correct, weight
