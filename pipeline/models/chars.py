"""A character-level word representation (Ma & Hovy 2016): one Keras layer.

For every token, its characters are embedded, a 1-D convolution with 'same'
padding runs over them, and the maximum over the characters gives one vector of
``filters`` features::

    chars [batch, time, C] (0 = padding, 1 = unknown character, real characters >= 2)
      -> char embedding (padding characters are zero vectors)
      -> Conv1D(filters, width, padding='same') + bias -> tanh
      -> max over the real characters (a token without characters gives 0)
      -> [batch, time, filters]

Inputs are right-padded with 0 over characters and over tokens; a token's vector
depends only on its own characters, not on how much padding follows it. Its mask
is "the token has characters", which equals the word-level padding mask for real
inputs (every real token has at least one character).

Only ``keras.ops`` are used, so it trains under any Keras backend and under a
mixed-precision policy. The fused ONNX exporter converts it
(``pipeline/export/fused/chars.py``).

>>> import numpy as np
>>> layer = CharCNN(num_chars=40, char_dim=8, filters=6, width=3)
>>> chars = np.array([[[5, 6, 7, 0], [9, 0, 0, 0], [0, 0, 0, 0]]])   # 2 tokens, 1 padding token
>>> out = np.asarray(layer(chars))
>>> out.shape, bool(np.all(out[0, 2] == 0))
((1, 3, 6), True)
"""

from __future__ import annotations

import keras
from keras import ops

# Stands in for padding characters before the max: below tanh's range [-1, 1] and
# representable in float16.
EXCLUDED = -1e4


@keras.saving.register_keras_serializable(package="rnnx")
class CharCNN(keras.layers.Layer):
    """Characters of each token -> embedding -> Conv1D('same') -> tanh -> max over characters.

    ``num_chars``: size of the character table (ids 0 and 1 included); ``char_dim``:
    character embedding size; ``filters``: output features per token; ``width``:
    convolution width, odd.
    """

    def __init__(self, num_chars: int, char_dim: int = 30, filters: int = 50, width: int = 3,
                 name: str = "char_cnn", **kwargs):
        super().__init__(name=name, **kwargs)
        _check(num_chars, char_dim, filters, width)
        self.num_chars = int(num_chars)
        self.char_dim = int(char_dim)
        self.filters = int(filters)
        self.width = int(width)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"CharCNN reads character ids of shape [batch, time, chars]; got shape {input_shape}")
        self.embeddings = self.add_weight(name="embeddings", shape=(self.num_chars, self.char_dim),
                                          initializer="uniform")
        self.kernel = self.add_weight(name="kernel", shape=(self.width, self.char_dim, self.filters),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, chars):
        shape = ops.shape(chars)
        flat = ops.reshape(chars, (-1, shape[2]))                      # [tokens, C]
        present = ops.not_equal(flat, 0)                               # real characters
        vectors = ops.take(self.embeddings, flat, axis=0)              # [tokens, C, D]
        vectors = vectors * ops.expand_dims(ops.cast(present, vectors.dtype), -1)
        y = ops.conv(vectors, self.kernel, strides=1, padding="same", data_format="channels_last")
        y = ops.tanh(y + self.bias)                                    # [tokens, C, filters]
        y = ops.where(ops.expand_dims(present, -1), y, ops.cast(EXCLUDED, y.dtype))
        y = ops.max(y, axis=1)                                         # [tokens, filters]
        has_chars = ops.any(present, axis=1, keepdims=True)
        y = ops.where(has_chars, y, ops.zeros_like(y))
        return ops.reshape(y, (shape[0], shape[1], self.filters))

    def compute_mask(self, inputs, mask=None):
        """``[batch, time]``: the token has characters. Concatenated with the word embedding, Keras's
        ``Concatenate`` ORs the two masks, so the word-level padding mask survives (an unmasked input
        would count as all-real and switch the mask off)."""
        return ops.any(ops.not_equal(inputs, 0), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.filters)

    def get_config(self):
        return {**super().get_config(), "num_chars": self.num_chars, "char_dim": self.char_dim,
                "filters": self.filters, "width": self.width}


def _check(num_chars, char_dim, filters, width) -> None:
    if num_chars < 2:
        raise ValueError(f"num_chars must be at least 2 (padding 0, unknown 1), got {num_chars}")
    for what, n in (("char_dim", char_dim), ("filters", filters), ("width", width)):
        if n < 1:
            raise ValueError(f"CharCNN {what} must be at least 1, got {n}")
    if width % 2 == 0:
        raise ValueError(f"CharCNN width must be odd, got {width}: 'same' padding must be symmetric so a "
                         f"token's vector does not depend on its trailing padding (use {width - 1} or {width + 1})")
