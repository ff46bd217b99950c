"""Imports every converter module so their ``@converts`` decorators register.

A new converter module is added here, once.
"""

from pipeline.export.fused import (  # noqa: F401
    bidirectional, chars, crf, dense, dropout, embedding, gru, keras_ops, lstm, merge, pooling, recurrent,
    simplernn,
)
