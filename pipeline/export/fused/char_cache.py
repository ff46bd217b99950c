"""Cached character features: the ``CharCNN`` output of known spellings is a table lookup.

A token's character-CNN vector depends only on its character ids, so the vector
of every spelling seen in training can be computed once, at export, into a table
``[S + 1, filters]`` (row 0: zeros, the vector of a token without characters).
The graph then runs the convolution only for the tokens it cannot find::

    flat chars [N, C]
      -> hash = sum_j chars[:, j] * w[j], j < K    (int64, no overflow: w < 2**20, ids < 2**20, K <= 64)
      -> candidate = slot_of_bucket[hash mod M]    (an open table of M buckets, 0 = empty)
      -> known = chars[:, :K] == spelling_chars[candidate] and length == spelling_length[candidate]
      -> features = table[known ? candidate : 0]
      -> rows = NonZero(not known)                 (the unknown tokens, often none)
      -> features[rows] = CNN(chars[rows])         (ScatterND; the CNN of chars.py on [U, C])

The lookup is exact: a candidate is used only when its stored characters equal the
token's, so a hash collision costs a convolution, never a wrong vector. Each bucket
holds one spelling; spellings are inserted most frequent first, and one that finds
its bucket taken is left out of the table (it is still computed, by the CNN).
Tokens longer than ``K`` (the longest cached spelling) are never in the table.

Example::

    cache = CharCache.build(layer, spellings=[[5, 6], [7]])   # char id lists, most frequent first
    cache.size, cache.table.shape                              # (2, (3, layer.filters))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

HASH_SEED = 20181
MAX_HASHED_CHARS = 64  # hash weights cover this many characters; longer tokens go to the CNN


@dataclass
class CharCache:
    """What the graph needs to look a token's character vector up instead of computing it."""

    table: np.ndarray          # float32 [S + 1, filters]; row 0 zeros
    chars: np.ndarray          # int32 [S + 1, K]; the character ids of each cached spelling (0-padded)
    lengths: np.ndarray        # int64 [S + 1]; row 0 has length 0
    slots: np.ndarray          # int32 [M]; bucket -> row (0: empty)
    weights: np.ndarray        # int64 [MAX_HASHED_CHARS]; hash weights

    @property
    def size(self) -> int:
        return len(self.table) - 1

    @classmethod
    def build(cls, layer, spellings: Sequence[Sequence[int]], *, batch: int = 4096) -> "CharCache":
        """The cache of ``spellings`` (character id lists, most frequent first) for the Keras ``CharCNN`` ``layer``.

        The vectors come from the layer itself, so cached tokens give exactly Keras's
        values. Empty, duplicate and over-long (> 64 characters) spellings are skipped.
        """
        weights = hash_weights()
        kept, seen = [], set()
        for s in spellings:
            s = tuple(int(c) for c in s)
            if 0 < len(s) <= MAX_HASHED_CHARS and 0 not in s and s not in seen:
                seen.add(s)
                kept.append(s)
        buckets = _bucket_count(len(kept))
        slots = np.zeros(buckets, np.int32)
        rows: list[tuple[int, ...]] = []
        for s in kept:
            b = int(np.dot(np.asarray(s, np.int64), weights[: len(s)])) % buckets
            if b != 0 and slots[b] == 0:  # bucket 0 is where characterless tokens (hash 0) look
                rows.append(s)
                slots[b] = len(rows)
        width = max([1, *(len(s) for s in rows)])
        chars = np.zeros((len(rows) + 1, width), np.int32)
        for i, s in enumerate(rows, start=1):
            chars[i, : len(s)] = s
        lengths = np.asarray([0, *(len(s) for s in rows)], np.int64)
        return cls(_vectors(layer, chars, batch), chars, lengths, slots, weights)


def hash_weights() -> np.ndarray:
    """int64 ``[64]``: fixed pseudo-random weights in ``[1, 2**20)`` (the same at every export)."""
    return np.random.default_rng(HASH_SEED).integers(1, 2 ** 20, MAX_HASHED_CHARS).astype(np.int64)


def _bucket_count(n: int) -> int:
    """A power of two at least 4x the spellings (few collisions, small table)."""
    return 1 << max(4, int(np.ceil(np.log2(max(1, 4 * n)))))


def _vectors(layer, chars: np.ndarray, batch: int) -> np.ndarray:
    """float32 ``[S + 1, filters]``: the layer's output for each row of ``chars`` (row 0 gives 0)."""
    out = []
    for start in range(0, len(chars), batch):
        x = chars[start: start + batch, None, :].astype(np.int64)               # [n, 1, K]
        y = layer(x)
        out.append(np.asarray(y.numpy() if hasattr(y, "numpy") else y, np.float32)[:, 0, :])
    table = np.concatenate(out, axis=0)
    table[0] = 0.0
    return table


def lookup(ctx, name: str, cache: CharCache, flat: str) -> tuple[str, str]:
    """``(features [N, filters], known bool [N])`` for int64 ``flat`` ``[N, C]`` character ids."""
    g = ctx.g
    i64 = np.int64
    head = g.op("Slice", [flat, g.ints([0], "start"), g.ints([cache.chars.shape[1]], f"{name}_k"),
                          g.ints([1], "idx1")], hint=f"{name}_head")                                  # [N, k]
    k = g.op("Gather", [g.op("Shape", [head]), g.ints([1], "idx1")], axis=0, hint=f"{name}_width")      # [1]
    weights = g.op("Slice", [g.const(cache.weights, f"{name}_hash_w"), g.ints([0], "start"), k])
    hashed = g.op("ReduceSum", [g.op("Mul", [head, weights]), g.ints([1])], keepdims=0, hint=f"{name}_hash")
    bucket = g.op("Mod", [hashed, g.const(np.array(len(cache.slots), i64), f"{name}_buckets")])
    slot = g.op("Cast", [g.op("Gather", [g.const(cache.slots, f"{name}_slots"), bucket], axis=0)], to=7,
                hint=f"{name}_slot")                                                                     # [N]
    stored = g.op("Gather", [g.const(cache.chars, f"{name}_spellings"), slot], axis=0)                    # [N, K]
    stored = g.op("Slice", [stored, g.ints([0], "start"), k, g.ints([1], "idx1")])                       # [N, k]
    differ = g.op("Not", [g.op("Equal", [g.op("Cast", [head], to=6), stored])])
    differing = g.op("ReduceSum", [g.op("Cast", [differ], to=6), g.ints([1])], keepdims=0)             # int32 [N]
    length = g.op("ReduceSum", [g.op("Cast", [g.op("Greater", [flat, g.const(np.array(0, i64), "zero_i64")])],
                                       to=7), g.ints([1])], keepdims=0, hint=f"{name}_length")
    same_length = g.op("Equal", [length, g.op("Gather", [g.const(cache.lengths, f"{name}_lengths"), slot], axis=0)])
    same_chars = g.op("Equal", [differing, g.const(np.array(0, np.int32), "zero_i32")])
    known = g.op("And", [same_length, same_chars], hint=f"{name}_known")
    row = g.op("Where", [known, slot, g.const(np.array(0, i64), "zero_i64")])
    features = g.op("Gather", [g.const(cache.table, f"{name}_cached"), row], axis=0, hint=f"{name}_cached_rows")
    return features, known


def fill_unknown(ctx, name: str, features: str, known: str, flat: str, compute) -> str:
    """``features`` with the rows of the unknown tokens replaced by ``compute(chars [U, C]) -> [U, filters]``."""
    g = ctx.g
    where = g.op("Transpose", [g.op("NonZero", [g.op("Not", [known])])], perm=[1, 0], hint=f"{name}_unknown")  # [U, 1]
    rows = g.op("GatherND", [flat, where], hint=f"{name}_unknown_chars")                                    # [U, C]
    return g.op("ScatterND", [features, where, compute(rows)], hint=f"{name}_features")
