"""A sentence as one character sequence, for character language models (Akbik et al. 2018).

A character LM reads a sentence's tokens joined by single spaces, with a space
before the first token and after the last one::

    " The cat sat . "      ids [L]: the characters' ids (0 = padding, 1 = unknown character)
       ^ ^                 starts[i]: position of token i's first character (>= 1: position 0 is a space)
         ^                 ends[i]:   position of token i's last character

The forward LM's state at ``ends[i]`` has read the sentence up to the end of
token i; the backward LM's state at ``starts[i]`` has read it from the end back
to the start of token i. Their concatenation is token i's contextual string
embedding. A start of 0 marks a padding token (no real token starts at the
leading space), which is how the feature layer knows the padding mask.

Characters keep their case and are never truncated: the LM reads the text as it
was written. Pretraining and tagging use this same layout, so what the LM learnt
to read is what it reads later.

>>> v = LMChars.build(["the cat", "a cat"], min_freq=1)
>>> ids, starts, ends = v.encode_sentence(["the", "cat"])
>>> len(ids), starts, ends          # " the cat "
(9, [1, 5], [3, 7])
>>> v.decode(ids)
' the cat '
>>> v.encode_sentence(["dog"])[0][1:4] == [1, 1, 1]     # d, o, g unseen: unknown
True
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

PAD = "<pad>"
UNK = "<unk>"
SEP = " "  # between tokens, and before the first / after the last


@dataclass
class LMChars:
    """``chars[i]`` is the character with id ``i``; ids 0/1 are padding/unknown."""

    chars: list[str]

    def __post_init__(self) -> None:
        if self.chars[:2] != [PAD, UNK]:
            raise ValueError("an LMChars vocabulary must start with the padding and unknown entries")
        if SEP not in self.chars:
            raise ValueError("an LMChars vocabulary must hold the space that separates tokens")
        self._index = {c: i for i, c in enumerate(self.chars) if i > 1}

    @classmethod
    def build(cls, texts: Iterable[str], *, min_freq: int = 2) -> "LMChars":
        """Characters seen at least ``min_freq`` times in ``texts`` (and the space), most frequent first."""
        counts = Counter(ch for text in texts for ch in text)
        counts[SEP] = max(counts[SEP], min_freq)
        kept = sorted((c for c, n in counts.items() if n >= min_freq), key=lambda c: (-counts[c], c))
        return cls([PAD, UNK, *kept])

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode_text(self, text: str) -> list[int]:
        index = self._index
        return [index.get(ch, 1) for ch in text]

    def encode_sentence(self, tokens: Sequence[str]) -> tuple[list[int], list[int], list[int]]:
        """``(ids, starts, ends)`` of ``tokens`` in the layout of the module docstring."""
        starts, ends, at = [], [], 1
        for t in tokens:
            starts.append(at)
            ends.append(at + len(t) - 1)
            at += len(t) + 1
        return self.encode_text(sentence_text(tokens)), starts, ends

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i] if i > 1 else "\ufffd" for i in ids if i != 0)

    def sha256(self) -> str:
        payload = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def to_json(self) -> dict:
        return {"chars": self.chars, "layout": "space-joined tokens, a space before and after"}

    @classmethod
    def from_json(cls, data: dict) -> "LMChars":
        return cls(list(data["chars"]))


def sentence_text(tokens: Sequence[str]) -> str:
    """What a character LM reads for ``tokens``.

    >>> sentence_text(["Hi", "!"]), sentence_text([])
    (' Hi ! ', ' ')
    """
    return SEP + "".join(t + SEP for t in tokens)
