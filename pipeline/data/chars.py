"""Character vocabularies: the characters of each token as ids, for character-level word features.

Id 0 is padding and id 1 an unknown character; real characters start at 2.
Characters keep their case (capitals say a lot about proper nouns) even when the
word vocabulary lowercases. A word longer than ``max_word_chars`` keeps its first
and last characters (``max_word_chars // 2`` of each): the prefix and the suffix
are what tell a word's class.

>>> cv = CharVocab.build([["The", "cat"], ["sat", "!"]], min_freq=1)
>>> cv.encode_word("cat"), cv.encode_word("caZ")
([6, 2, 3], [6, 2, 1])
>>> CharVocab.build([["abcdefgh"]], min_freq=1, max_word_chars=4).encode_word("abcdefgh")
[2, 3, 8, 9]
>>> pad_chars([[[5, 6], [7]], [[8, 9, 10]]]).shape
(2, 2, 3)
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

PAD_CHAR = "<pad>"
UNK_CHAR = "<unk>"
PAD_CHAR_ID = 0
UNK_CHAR_ID = 1
MAX_WORD_CHARS = 24


@dataclass
class CharVocab:
    """``chars[i]`` is the character with id ``i``; ids 0/1 are padding/unknown."""

    chars: list[str]
    max_word_chars: int = MAX_WORD_CHARS

    def __post_init__(self) -> None:
        if self.chars[:2] != [PAD_CHAR, UNK_CHAR]:
            raise ValueError("a CharVocab must start with the padding and unknown entries")
        if self.max_word_chars < 2:
            raise ValueError(f"max_word_chars must be >= 2, got {self.max_word_chars}")
        self._index = {c: i for i, c in enumerate(self.chars) if i > UNK_CHAR_ID}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_freq: int = 2,
              max_word_chars: int = MAX_WORD_CHARS) -> "CharVocab":
        """Characters seen at least ``min_freq`` times in the training tokens (rarer ones are unknown)."""
        counts = Counter(ch for sent in sentences for tok in sent for ch in tok)
        kept = sorted((c for c, n in counts.items() if n >= min_freq), key=lambda c: (-counts[c], c))
        return cls([PAD_CHAR, UNK_CHAR, *kept], max_word_chars)

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode_word(self, word: str) -> list[int]:
        if len(word) > self.max_word_chars:
            half = self.max_word_chars // 2
            word = word[:half] + word[len(word) - (self.max_word_chars - half):]
        index = self._index
        return [index.get(ch, UNK_CHAR_ID) for ch in word]

    def encode(self, tokens: Iterable[str]) -> list[list[int]]:
        return [self.encode_word(t) for t in tokens]

    def sha256(self) -> str:
        payload = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def to_json(self) -> dict:
        return {"chars": self.chars, "max_word_chars": self.max_word_chars}

    @classmethod
    def from_json(cls, data: dict) -> "CharVocab":
        return cls(list(data["chars"]), int(data["max_word_chars"]))


def pad_chars(batch: Sequence[Sequence[Sequence[int]]], time: int | None = None) -> np.ndarray:
    """Right-pad per-token character ids into int64 ``[batch, time, chars]`` (chars at least 1 wide).

    ``time`` defaults to the longest row; it must match the word ids' padded width.
    """
    width_t = max([1, *(len(s) for s in batch)]) if time is None else time
    width_c = max([1, *(len(w) for s in batch for w in s)])
    out = np.zeros((len(batch), width_t, width_c), dtype=np.int64)
    for row, sent in enumerate(batch):
        for col, word in enumerate(sent[:width_t]):
            if word:
                out[row, col, : len(word)] = word
    return out
