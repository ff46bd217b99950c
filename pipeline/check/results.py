"""Typed failures of a check: what failed, where, by how much, and the limit it broke.

Every checker in :mod:`pipeline.check` collects :class:`Failure` values, writes
``str(failure)`` into ``parity.json`` (``"failures"``) and raises
:class:`~pipeline.errors.ParityError` with the failures attached
(``error.failures``), so a program can tell a tolerance breach from a shape or a
label mismatch without parsing messages (as Hugging Face Optimum's
``validate_model_outputs`` does).

>>> f = ToleranceFailure("held-out", "keras - onnx", 3e-4, 1e-4, at="test sequence 7")
>>> str(f)
'held-out: max |keras - onnx| = 0.0003 > 0.0001 at test sequence 7'
>>> str(ShapeFailure("random batch 2", (4, 3), (4, 2)))
'random batch 2: Keras gives shape (4, 3) but ONNX Runtime (4, 2)'
>>> str(LabelFailure("", 2, 40, "{differing} of {total} labels differ"))
'2 of 40 labels differ'
>>> raise_failures("export/pos/model.onnx fails parity", [f])
Traceback (most recent call last):
...
pipeline.errors.ParityError: export/pos/model.onnx fails parity:
  held-out: max |keras - onnx| = 0.0003 > 0.0001 at test sequence 7
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pipeline.errors import ParityError

__all__ = ["Failure", "ToleranceFailure", "ShapeFailure", "LabelFailure", "IdFailure", "AccuracyDropFailure",
           "raise_failures"]


@dataclass(frozen=True)
class Failure:
    """Base class; ``where`` names the data (``"held-out"``, ``"random batch 3"``) or is empty."""

    where: str

    def message(self) -> str:  # pragma: no cover - every subclass says what failed
        raise NotImplementedError

    def __str__(self) -> str:
        return (f"{self.where}: " if self.where else "") + self.message()


@dataclass(frozen=True)
class ToleranceFailure(Failure):
    """The largest absolute difference of ``quantity`` exceeds ``atol``."""

    quantity: str  # e.g. "keras - onnx", "probs difference"
    max_diff: float
    atol: float
    at: str = ""  # where the largest difference is

    def message(self) -> str:
        return f"max |{self.quantity}| = {self.max_diff:.3g} > {self.atol:g}" + (f" at {self.at}" if self.at else "")


@dataclass(frozen=True)
class ShapeFailure(Failure):
    """The candidate's output has another shape than the reference's."""

    expected: tuple
    got: tuple
    reference: str = "Keras"
    candidate: str = "ONNX Runtime"

    def message(self) -> str:
        return f"{self.reference} gives shape {self.expected} but {self.candidate} {self.got}"


@dataclass(frozen=True)
class LabelFailure(Failure):
    """``differing`` predicted labels (or tag sequences) differ from the reference's.

    ``text`` is the sentence, with ``{differing}`` and ``{total}`` filled in.
    """

    differing: int
    total: int | None
    text: str

    def message(self) -> str:
        return self.text.format(differing=self.differing, total=self.total)


@dataclass(frozen=True)
class IdFailure(Failure):
    """Token ids computed inside a text model differ from Python's ``Vocabulary.encode``."""

    mismatches: int
    examples: tuple = ()

    def message(self) -> str:
        return f"{self.mismatches} token ids differ from Vocabulary.encode (e.g. {list(self.examples[:2])})"


@dataclass(frozen=True)
class AccuracyDropFailure(Failure):
    """A compressed model loses more accuracy than allowed against its float reference."""

    reference_accuracy: float
    accuracy: float
    drop_points: float
    allowed_points: float
    model: str = "int8"
    reference: str = "float32"

    def message(self) -> str:
        return (f"{self.model} accuracy {self.accuracy:.4f} is {self.drop_points:.2f} points below "
                f"{self.reference} {self.reference_accuracy:.4f} (allowed: {self.allowed_points}); keep the float "
                "model or quantize fewer op types")


def raise_failures(headline: str, failures: Sequence[Failure], *, sep: str = "\n  ") -> None:
    """Raise one :class:`~pipeline.errors.ParityError` listing ``failures`` under ``headline`` (none: return)."""
    if failures:
        joiner = ":" + sep if sep.startswith("\n") else ": "
        raise ParityError(headline + joiner + sep.join(str(f) for f in failures), failures=tuple(failures))
