"""What a model reads for a sentence: word ids, and the characters of each word when it has a character CNN.

An :class:`Encoder` turns tokens into one encoded sequence and a batch of them
into the model's inputs. A word-level model reads one int64 array ``ids
[batch, time]``; a model with character features reads ``{"ids": ..., "chars":
[batch, time, chars]}``; a model with character-LM features (:mod:`pipeline.models.char_lm`)
also reads the sentence as one character sequence, ``lm_chars [batch, L]``, and where
each token starts and ends in it, ``lm_starts``/``lm_ends [batch, time]``
(:mod:`pipeline.data.lm_text`). Every place that feeds a model (training, evaluation,
parity checks, the ONNX runtime) goes through the same two calls::

    >>> from pipeline.data.vocab import Vocabulary
    >>> from pipeline.data.chars import CharVocab
    >>> words = Encoder(Vocabulary.build([["a", "cat"]]))
    >>> words.collate([words.encode(["a", "cat"]), words.encode(["dog"])]).tolist()
    [[2, 3], [1, 0]]
    >>> both = Encoder(Vocabulary.build([["a", "cat"]]), CharVocab.build([["a", "cat"]], min_freq=1))
    >>> batch = both.collate([both.encode(["a", "cat"]), both.encode(["dog"])])
    >>> batch["ids"].tolist(), batch["chars"].shape, both.input_names
    ([[2, 3], [1, 0]], (2, 2, 3), ['ids', 'chars'])
    >>> from pipeline.data.lm_text import LMChars
    >>> lm = Encoder(Vocabulary.build([["a", "cat"]]), lm=LMChars.build(["a cat"], min_freq=1))
    >>> batch = lm.collate([lm.encode(["a", "cat"]), lm.encode(["dog"])])
    >>> batch["lm_chars"].shape, batch["lm_starts"].tolist(), batch["lm_ends"].tolist()
    ((2, 7), [[1, 3], [1, 0]], [[1, 5], [3, 0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pipeline.data.batching import pad
from pipeline.data.chars import CharVocab, pad_chars
from pipeline.data.lm_text import LMChars
from pipeline.data.vocab import Vocabulary

IDS = "ids"
CHARS = "chars"
LM_CHARS, LM_STARTS, LM_ENDS = "lm_chars", "lm_starts", "lm_ends"
LM_FEATURES = "lm_features"  # a frozen LM's word features, computed once (pipeline.train.lm_cache)


class Encoded(tuple):
    """``(ids, chars, lm, lm_features)`` of one sentence (None for what the model does not read);
    ``len()`` is its number of tokens. ``lm`` is ``(lm_chars, starts, ends)``; ``lm_features`` is the float32
    ``[tokens, 2 * units]`` a frozen LM gives for them, which training reads in their place."""

    __slots__ = ()

    def __new__(cls, ids: list[int], chars: list[list[int]] | None, lm: tuple | None = None,
                lm_features: np.ndarray | None = None):
        return super().__new__(cls, (ids, chars, lm, lm_features))

    def __len__(self) -> int:
        return len(self[0])

    @property
    def ids(self) -> list[int]:
        return self[0]

    @property
    def chars(self) -> list[list[int]] | None:
        return self[1]

    @property
    def lm(self) -> tuple | None:
        return self[2]

    @property
    def lm_features(self) -> np.ndarray | None:
        return self[3]


@dataclass
class Encoder:
    """Tokens -> model inputs, for the vocabularies a model was trained with."""

    vocab: Vocabulary
    chars: CharVocab | None = None
    lm: LMChars | None = None

    @property
    def input_names(self) -> list[str]:
        return [IDS] + ([CHARS] if self.chars is not None else []) + ([LM_CHARS, LM_STARTS, LM_ENDS]
                                                                      if self.lm is not None else [])

    def encode(self, tokens: Sequence[str]):
        """One sentence: a list of word ids, or :class:`Encoded` when the model reads characters."""
        ids = self.vocab.encode(tokens)
        if self.chars is None and self.lm is None:
            return ids
        return Encoded(ids, self.chars.encode(tokens) if self.chars is not None else None,
                       self.lm.encode_sentence(tokens) if self.lm is not None else None)

    def encode_all(self, sentences: Sequence[Sequence[str]]) -> list:
        return [self.encode(t) for t in sentences]

    def collate(self, batch: Sequence, min_width: int = 1):
        """Right-padded model inputs for encoded sentences (an array, or a dict of arrays)."""
        return collate(batch, min_width=min_width)


def collate(batch: Sequence, min_width: int = 1):
    """Pad encoded sentences: lists of ids -> int64 ``[batch, time]``; :class:`Encoded` -> dict of inputs."""
    if batch and isinstance(batch[0], Encoded):
        ids = pad([e.ids for e in batch], min_width=min_width)
        out = {IDS: ids}
        if batch[0].chars is not None:
            out[CHARS] = pad_chars([e.chars for e in batch], time=ids.shape[1])
        if batch[0].lm is not None:
            out[LM_CHARS] = pad([e.lm[0] for e in batch], min_width=1)
            out[LM_STARTS] = pad([e.lm[1] for e in batch], max_len=ids.shape[1])
            out[LM_ENDS] = pad([e.lm[2] for e in batch], max_len=ids.shape[1])
        if batch[0].lm_features is not None:
            out[LM_FEATURES] = pad_features([e.lm_features for e in batch], time=ids.shape[1])
        return out
    return pad(batch, min_width=min_width)


def pad_features(rows: Sequence[np.ndarray], time: int) -> np.ndarray:
    """Right-pad float ``[tokens, width]`` rows into float32 ``[batch, time, width]`` (zeros where padded).

    >>> pad_features([np.ones((2, 3)), np.ones((1, 3))], time=2)[:, :, 0].tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """
    out = np.zeros((len(rows), time, rows[0].shape[-1]), dtype=np.float32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row[:time]
    return out


def ids_of(x) -> np.ndarray:
    """The word ids of a collated batch (which carry the padding)."""
    return x[IDS] if isinstance(x, dict) else x


def as_feeds(x) -> dict[str, np.ndarray]:
    """A collated batch as named inputs (``{"ids": ...}`` for word-level models)."""
    return dict(x) if isinstance(x, dict) else {IDS: x}
