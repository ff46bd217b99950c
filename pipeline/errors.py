"""User-facing errors.

Every error rnnx raises on bad input is an :class:`RnnxError` whose message says
what went wrong, where (file, line, argument) and what to do. The CLI prints the
message and exits with status 2 instead of showing a traceback.

>>> raise DataError("corpus.tsv line 3: expected label<TAB>text")
Traceback (most recent call last):
...
pipeline.errors.DataError: corpus.tsv line 3: expected label<TAB>text
"""


class RnnxError(Exception):
    """Base class for errors caused by input or environment, not by rnnx itself."""


class DataError(RnnxError):
    """A corpus or user file is missing, malformed or cannot be fetched."""


class ConfigError(RnnxError):
    """An argument or option is invalid."""


class ExportError(RnnxError):
    """A model cannot be exported (an unsupported layer, a bad artifact)."""


class ParityError(RnnxError):
    """ONNX Runtime and Keras disagree beyond the tolerance.

    ``failures`` holds the typed failures (:mod:`pipeline.check.results`) when a checker raised it.
    """

    def __init__(self, message: str, failures: tuple = ()):
        super().__init__(message)
        self.failures = tuple(failures)
