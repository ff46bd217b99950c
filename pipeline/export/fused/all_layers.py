"""Imports every converter module so their ``@converts`` decorators register.

A new converter module is added here, once.
"""

from pipeline.export.fused import (  # noqa: F401
    activation_layers, bidirectional, char_lm, chars, conv, crf, dense, dropout, embedding, gru, keras_ops, lstm, merge,
    normalization, pooling, pooling1d, recurrent, refused, reshape, simplernn,
)
