"""Encode many sentences for an exported model, once per distinct token.

A corpus repeats its words: brown-upos test has 115,803 tokens and 14,516
distinct spellings. :func:`encode_tokens` looks each distinct token up once
(word id, character ids), stores the answers in tables, and represents every
sentence as row numbers into them; a batch's model inputs are then two numpy
gathers instead of a Python loop over every character. The inputs are exactly
those of :class:`pipeline.data.features.Encoder` (the tests compare them).

Nothing outlives the call, so memory grows with the distinct tokens of the
sentences given, not with everything a long-running process has seen.

>>> from pipeline.data.vocab import Vocabulary
>>> from pipeline.data.chars import CharVocab
>>> from pipeline.data.features import Encoder
>>> enc = Encoder(Vocabulary.build([["a", "cat"]]), CharVocab.build([["a", "cat"]], min_freq=1))
>>> rows = encode_tokens(enc, [["a", "cat"], ["dog"]])
>>> [r.tolist() for r in rows.sentences]            # row 0 is padding
[[1, 2], [3]]
>>> feeds = rows.collate(rows.sentences)
>>> feeds["ids"].tolist(), feeds["chars"].shape
([[2, 3], [1, 0]], (2, 2, 3))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pipeline.data.features import CHARS, IDS, Encoder


@dataclass
class TokenRows:
    """Sentences as rows of per-token tables; :meth:`collate` builds a batch's model inputs."""

    sentences: list[np.ndarray]       # int64 row numbers per sentence (row 0: padding)
    word_ids: np.ndarray              # int64 [rows]
    chars: np.ndarray | None          # int64 [rows, max chars]; None for word-level models
    char_lengths: np.ndarray | None   # int64 [rows]

    def collate(self, batch: Sequence[np.ndarray]):
        """Right-padded inputs for a batch of sentences: ``ids`` ``[B, T]`` (and ``chars`` ``[B, T, C]``)."""
        width = max([1, *(len(s) for s in batch)])
        index = np.zeros((len(batch), width), np.int64)
        for i, s in enumerate(batch):
            index[i, : len(s)] = s
        ids = self.word_ids[index]
        if self.chars is None:
            return ids
        c = max(1, int(self.char_lengths[index].max()))
        return {IDS: ids, CHARS: self.chars[:, :c][index]}


def encode_tokens(encoder: Encoder, sentences: Sequence[Sequence[str]]) -> TokenRows:
    """The :class:`TokenRows` of ``sentences`` for ``encoder``'s vocabularies."""
    rows: dict[str, int] = {}
    sentence_rows = []
    for tokens in sentences:
        sentence_rows.append(np.fromiter((rows.setdefault(t, len(rows) + 1) for t in tokens), np.int64,
                                         count=len(tokens)))
    distinct = list(rows)
    word_ids = np.asarray([0, *encoder.vocab.encode(distinct)], np.int64)
    if encoder.chars is None:
        return TokenRows(sentence_rows, word_ids, None, None)
    spelled = [encoder.chars.encode_word(t) for t in distinct]
    lengths = np.asarray([0, *map(len, spelled)], np.int64)
    chars = np.zeros((len(spelled) + 1, max(1, int(lengths.max()))), np.int64)
    for i, s in enumerate(spelled, start=1):
        chars[i, : len(s)] = s
    return TokenRows(sentence_rows, word_ids, chars, lengths)
