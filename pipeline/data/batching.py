"""Length-bucketed batches of right-padded id sequences (numpy only).

Training feeds batches of similar-length sequences so little compute goes to
padding: :func:`bucket_batches` shuffles the indices, sorts them by length within
large chunks, cuts each chunk into batches and shuffles the batch order -- random
enough to train on, deterministic for a given seed. :func:`pad` right-pads with 0
(``PAD_ID``) and :func:`batch_padded` builds one ``(ids, targets)`` batch.

The number of batches is always ``ceil(n / batch_size)``, shuffled or not, so a
training loop can compute its steps per epoch from an unshuffled call.

>>> pad([[5, 6, 7], [8]]).tolist()
[[5, 6, 7], [8, 0, 0]]
>>> [b.tolist() for b in bucket_batches([3, 1, 2, 1], 2, shuffle=False)]
[[1, 3], [2, 0]]
>>> x, y = batch_padded([[5, 6], [7]], [[1, 2], [3]], [0, 1], task="tagging")
>>> x.tolist(), y.tolist()
([[5, 6], [7, 0]], [[1, 2], [3, 0]])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pipeline.data.vocab import PAD_ID

TASKS = ("tagging", "classification")


def pad(
    seqs: Sequence[Sequence[int]],
    max_len: int | None = None,
    value: int = PAD_ID,
    min_width: int = 0,
) -> np.ndarray:
    """Right-pad ``seqs`` into an int64 array ``[len(seqs), T]``.

    ``T`` is the longest row (at least ``min_width``); with ``max_len`` it is
    exactly ``max_len`` and longer rows keep their first ``max_len`` ids.
    """
    if max_len is not None and max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    width = max([min_width, *(len(s) for s in seqs)]) if max_len is None else max_len
    out = np.full((len(seqs), width), value, dtype=np.int64)
    for row, seq in enumerate(seqs):
        n = min(len(seq), width)
        if n:
            out[row, :n] = np.asarray(seq[:n], dtype=np.int64)
    return out


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    chunk_batches: int = 50,
) -> list[np.ndarray]:
    """Index batches grouped by length; every index appears exactly once.

    Without ``shuffle``: indices sorted by length (stable), cut into batches, in
    that order. With ``shuffle``: a seeded permutation is cut into chunks of
    ``chunk_batches * batch_size`` indices, each chunk is sorted by length and cut
    into batches, and the batch order is shuffled.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if chunk_batches < 1:
        raise ValueError(f"chunk_batches must be >= 1, got {chunk_batches}")
    lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
    n = len(lens)
    if not shuffle:
        order = np.argsort(lens, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    chunk = batch_size * chunk_batches  # a multiple of batch_size: the batch count stays ceil(n / batch_size)
    batches = []
    for start in range(0, n, chunk):
        part = perm[start : start + chunk]
        part = part[np.argsort(lens[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def batch_padded(
    ids: Sequence[Sequence[int]],
    targets: Sequence,
    indices: Sequence[int],
    *,
    task: str,
    min_width: int = 1,
    target_dtype=np.int32,
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` for the sequences at ``indices``.

    ``x`` is int64 ``[b, T]`` right-padded with 0. For tagging ``y`` is
    ``[b, T]`` with the per-token targets and 0 at padding (mask it with
    ``x != 0`` or the lengths); for classification ``y`` is ``[b]``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    idx = [int(i) for i in indices]
    x = pad([ids[i] for i in idx], min_width=min_width)
    if task == "tagging":
        for i in idx:
            if len(targets[i]) != len(ids[i]):
                raise ValueError(f"sequence {i} has {len(ids[i])} ids but {len(targets[i])} targets")
        y = pad([targets[i] for i in idx], max_len=x.shape[1]).astype(target_dtype)
    else:
        y = np.asarray([targets[i] for i in idx], dtype=target_dtype).reshape(len(idx))
    return x, y
