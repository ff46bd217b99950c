"""Vocabularies: tokens to ids (padding 0, unknown 1) and labels to ids.

>>> v = Vocabulary.build([["The", "cat"], ["the", "dog"]], lowercase=True)
>>> v.encode(["the", "CAT", "zebra"])
[2, 3, 1]
>>> v.size
5
>>> v.encode(["<pad>"])
[1]
>>> Labels(["NOUN", "VERB"]).encode(["VERB"])
[1]
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

PAD_ID = 0
OOV_ID = 1
PAD_TOKEN = "<pad>"
OOV_TOKEN = "<unk>"


def normalize(token: str, lowercase: bool) -> str:
    """The one normalisation rnnx applies to a token before lookup."""
    return token.lower() if lowercase else token


@dataclass
class Vocabulary:
    """Token vocabulary: ``words[i]`` is the token with id ``i``.

    Ids 0 and 1 are reserved for padding and unknown words.
    """

    words: list[str]
    lowercase: bool = True

    def __post_init__(self) -> None:
        if self.words[:2] != [PAD_TOKEN, OOV_TOKEN]:
            raise ValueError("a Vocabulary must start with the padding and unknown entries")
        # "<pad>"/"<unk>" typed in a text are unknown words, never padding
        self._index = {w: i for i, w in enumerate(self.words) if i > OOV_ID}

    @classmethod
    def build(
        cls,
        sentences: Iterable[list[str]],
        *,
        lowercase: bool = True,
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> "Vocabulary":
        """Count tokens once and keep those seen at least ``min_freq`` times.

        Ties in frequency are broken alphabetically, so the ids are deterministic.
        """
        counts = Counter(normalize(t, lowercase) for sent in sentences for t in sent)
        return cls.from_counts(counts, lowercase=lowercase, min_freq=min_freq, max_size=max_size)

    @classmethod
    def from_counts(
        cls, counts: Counter, *, lowercase: bool = True, min_freq: int = 1, max_size: int | None = None
    ) -> "Vocabulary":
        """A vocabulary from already-normalised word counts (streamed corpora)."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        kept = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[: max(0, max_size - 2)]
        return cls([PAD_TOKEN, OOV_TOKEN, *kept], lowercase)

    @property
    def size(self) -> int:
        return len(self.words)

    def __contains__(self, token: str) -> bool:
        return normalize(token, self.lowercase) in self._index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        index = self._index
        lc = self.lowercase
        return [index.get(normalize(t, lc), OOV_ID) for t in tokens]

    def sha256(self) -> str:
        """Checksum of the id assignment; recorded in exported models."""
        payload = json.dumps({"words": self.words, "lowercase": self.lowercase}, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def to_json(self) -> dict:
        return {"lowercase": self.lowercase, "words": self.words}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        return cls(list(data["words"]), bool(data["lowercase"]))


@dataclass
class Labels:
    """Label vocabulary (tags or classes); no padding entry, ids start at 0."""

    names: list[str]

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):
            raise ValueError("label names must be unique")
        self._index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def build(cls, labels: Iterable[str]) -> "Labels":
        return cls(sorted(set(labels)))

    @property
    def size(self) -> int:
        return len(self.names)

    def encode(self, labels: Iterable[str]) -> list[int]:
        out = []
        for label in labels:
            try:
                out.append(self._index[label])
            except KeyError:
                raise ValueError(
                    f"label {label!r} was not seen in training; known labels: "
                    f"{', '.join(self.names[:20])}{' ...' if self.size > 20 else ''}"
                ) from None
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.names[int(i)] for i in ids]

    def to_json(self) -> dict:
        return {"labels": self.names}

    @classmethod
    def from_json(cls, data: dict) -> "Labels":
        return cls(list(data["labels"]))
