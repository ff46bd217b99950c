"""Layers that do nothing at inference: dropout and noise layers, regularizers, rnnx's word dropout.

The converter returns its input; no ONNX node is written.

>>> import keras
>>> from pipeline.export.fused.registry import find
>>> find(keras.layers.SpatialDropout1D(0.1)).fn is identity
True
"""

from __future__ import annotations

import keras

from pipeline.export.fused.registry import converts
from pipeline.models.word_dropout import WordDropout

INFERENCE_NO_OPS = tuple(getattr(keras.layers, name, None) for name in (
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization",
)) + (WordDropout,)


@converts(*INFERENCE_NO_OPS, per_step=True)
def identity(ctx, layer, args, kwargs):
    return args[0]
