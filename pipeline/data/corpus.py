"""The one in-memory shape every corpus takes: a :class:`Split`.

A split is a list of token sequences with, per sequence, either one label per
token (``task="tagging"``) or one label for the whole text
(``task="classification"``).

>>> s = Split("tagging", [["They", "are", "early"]], [["PRON", "VERB", "ADV"]])
>>> len(s), s.num_tokens
(1, 3)
>>> Split("classification", [["fine", "film"]], ["pos"]).label_counts()
{'pos': 1}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

TASKS = ("tagging", "classification")


@dataclass
class Split:
    task: str
    tokens: list[list[str]]
    labels: list  # list[list[str]] for tagging, list[str] for classification
    source: str = ""  # where it came from, for messages ("brown-upos:test", a file path)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if len(self.tokens) != len(self.labels):
            raise ValueError(
                f"{self.source or 'split'}: {len(self.tokens)} token sequences but "
                f"{len(self.labels)} label entries; they must pair up one to one"
            )
        if self.task == "tagging":
            for i, (toks, tags) in enumerate(zip(self.tokens, self.labels)):
                if len(toks) != len(tags):
                    raise ValueError(
                        f"{self.source or 'split'}: sentence {i} has {len(toks)} tokens "
                        f"but {len(tags)} tags"
                    )

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def num_tokens(self) -> int:
        return sum(len(t) for t in self.tokens)

    def label_counts(self) -> dict[str, int]:
        """How often each label occurs (per token for tagging, per text otherwise)."""
        if self.task == "tagging":
            counts = Counter(tag for tags in self.labels for tag in tags)
        else:
            counts = Counter(self.labels)
        return dict(counts.most_common())

    def subset(self, indices) -> "Split":
        """A new split holding the sequences at ``indices`` (in that order)."""
        idx = list(indices)
        return Split(
            self.task,
            [self.tokens[i] for i in idx],
            [self.labels[i] for i in idx],
            self.source,
            dict(self.meta),
        )

    def head(self, n: int) -> "Split":
        """The first ``n`` sequences (tests and quick runs train on slices)."""
        return self.subset(range(min(n, len(self))))
