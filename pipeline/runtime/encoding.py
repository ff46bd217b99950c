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

from pipeline.data.features import CHARS, IDS, LM_CHARS, LM_ENDS, LM_STARTS, Encoder
from pipeline.data.lm_text import SEP


@dataclass
class TokenRows:
    """Sentences as rows of per-token tables; :meth:`collate` builds a batch's model inputs."""

    sentences: list[np.ndarray]       # int64 row numbers per sentence (row 0: padding)
    word_ids: np.ndarray              # int64 [rows]
    chars: np.ndarray | None          # int64 [rows, max chars]; None for word-level models
    char_lengths: np.ndarray | None   # int64 [rows]
    lm: tuple | None = None           # (int64 [rows, max + 1]: LM character ids then a space, int64 [rows] lengths)

    def collate(self, batch: Sequence[np.ndarray]):
        """Right-padded inputs for a batch of sentences: ``ids`` ``[B, T]`` (and ``chars`` ``[B, T, C]``,
        and the character LM's ``lm_chars``/``lm_starts``/``lm_ends``)."""
        width = max([1, *(len(s) for s in batch)])
        index = np.zeros((len(batch), width), np.int64)
        for i, s in enumerate(batch):
            index[i, : len(s)] = s
        ids = self.word_ids[index]
        if self.chars is None and self.lm is None:
            return ids
        out = {IDS: ids}
        if self.chars is not None:
            c = max(1, int(self.char_lengths[index].max()))
            out[CHARS] = self.chars[:, :c][index]
        if self.lm is not None:
            out.update(self._lm_inputs(index))
        return out

    def _lm_inputs(self, index: np.ndarray) -> dict:
        """The sentences as the character LM reads them (:mod:`pipeline.data.lm_text`), from per-token pieces
        "characters + space" written after a leading space."""
        table, lengths = self.lm
        lens = lengths[index]                                   # [B, T]; 0 at padding
        piece = np.where(index > 0, lens + 1, 0)
        starts = np.where(index > 0, 1 + np.cumsum(piece, axis=1) - piece, 0)
        ends = np.where(index > 0, starts + lens - 1, 0)
        chars = np.zeros((len(index), 1 + int(piece.sum(axis=1).max(initial=0))), np.int64)
        chars[:, 0] = table[0, 0]                               # row 0 holds the space id
        offsets = np.arange(table.shape[1])
        valid = offsets < piece[..., None]                      # [B, T, W]
        positions = starts[..., None] + offsets
        rows = np.broadcast_to(np.arange(len(index))[:, None, None], valid.shape)
        chars[rows[valid], positions[valid]] = table[index][valid]
        return {LM_CHARS: chars, LM_STARTS: starts, LM_ENDS: ends}


def encode_tokens(encoder: Encoder, sentences: Sequence[Sequence[str]]) -> TokenRows:
    """The :class:`TokenRows` of ``sentences`` for ``encoder``'s vocabularies."""
    rows: dict[str, int] = {}
    sentence_rows = []
    for tokens in sentences:
        sentence_rows.append(np.fromiter((rows.setdefault(t, len(rows) + 1) for t in tokens), np.int64,
                                         count=len(tokens)))
    distinct = list(rows)
    word_ids = np.asarray([0, *encoder.vocab.encode(distinct)], np.int64)
    chars = lengths = lm = None
    if encoder.chars is not None:
        chars, lengths = _table([encoder.chars.encode_word(t) for t in distinct])
    if encoder.lm is not None:
        space = encoder.lm.encode_text(SEP)
        lm = _table([encoder.lm.encode_text(t) + space for t in distinct], first=space)
        lm = (lm[0], np.maximum(lm[1] - 1, 0))              # lengths without the space
    return TokenRows(sentence_rows, word_ids, chars, lengths, lm)


def _table(spelled: list[list[int]], first: list[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [rows + 1, width], lengths [rows + 1])``: row 0 is ``first`` (padding: empty), then ``spelled``."""
    lengths = np.asarray([0, *map(len, spelled)], np.int64)
    table = np.zeros((len(spelled) + 1, max(1, int(lengths.max(initial=0)), len(first))), np.int64)
    table[0, : len(first)] = first
    for i, s in enumerate(spelled, start=1):
        table[i, : len(s)] = s
    return table, lengths
