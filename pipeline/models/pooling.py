"""Pooling over a classifier's recurrent states, under the padding mask.

By default a classifier reads the last state of its final recurrent layer. With
``pooling="max"`` or ``"mean"`` that layer returns every state and this layer
pools them over the real tokens only (padding never counts); a text without
tokens gives a zero vector. Max pooling lets one strongly worded phrase anywhere
in a long review decide, where the last state has to carry it to the end.

>>> import numpy as np
>>> x = np.array([[[1.0, -2.0], [3.0, -1.0], [9.0, 9.0]]], np.float32)   # 3 steps, the last is padding
>>> mask = np.array([[True, True, False]])
>>> np.asarray(StatePooling("max")(x, mask=mask)).tolist()
[[3.0, -1.0]]
>>> np.asarray(StatePooling("mean")(x, mask=mask)).tolist()
[[2.0, -1.5]]
"""

from __future__ import annotations

import keras
from keras import ops

# Stands in for padding steps before the max: below any recurrent state (tanh-bounded,
# at most 1 / (1 - dropout) in training) and representable in float16.
EXCLUDED = -1e4


@keras.saving.register_keras_serializable(package="rnnx")
class StatePooling(keras.layers.Layer):
    """``[batch, time, features]`` + mask -> ``[batch, features]``: max or mean over the real steps."""

    def __init__(self, mode: str = "max", name: str = "state_pooling", **kwargs):
        super().__init__(name=name, **kwargs)
        if mode not in ("max", "mean"):
            raise ValueError(f"StatePooling mode must be 'max' or 'mean', got {mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(x)[:2], dtype="bool")
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)                      # [B, T, 1]
        count = ops.sum(ops.cast(keep, x.dtype), axis=1)                         # [B, 1]
        if self.mode == "max":
            pooled = ops.max(ops.where(keep, x, ops.cast(EXCLUDED, x.dtype)), axis=1)
            return ops.where(count > 0, pooled, ops.zeros_like(pooled))
        total = ops.sum(ops.where(keep, x, ops.zeros_like(x)), axis=1)
        return total / ops.maximum(count, ops.cast(1, x.dtype))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
