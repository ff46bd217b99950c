"""Word dropout: while training, replace a share of the word ids with the unknown id.

A tagger with character features can label a word it never saw only if it has
learnt to lean on the characters when the word embedding says "unknown". In the
training data every word is known (or, below ``min_freq``, always unknown), so
without help the tagger rarely meets that case. Word dropout makes it common:
each real token's id becomes ``UNKNOWN_ID`` with probability ``rate`` at every
training step, while its characters stay (Lample et al. 2016 replaced singletons
with the unknown word for the same reason). Padding (id 0) is never touched, so
the padding mask is unchanged. At inference the layer passes the ids through;
the fused exporter writes no node for it.

>>> import numpy as np
>>> layer = WordDropout(0.5, seed=1)
>>> ids = np.array([[5, 6, 7, 8, 0, 0]])
>>> bool(np.all(np.asarray(layer(ids)) == ids))            # inference: unchanged
True
>>> out = np.asarray(layer(np.tile(ids, (200, 1)), training=True))
>>> sorted(set(out[:, :4].ravel().tolist()))               # real tokens: kept or unknown
[1, 5, 6, 7, 8]
>>> bool(np.all(out[:, 4:] == 0))                          # padding stays padding
True
"""

from __future__ import annotations

import keras
from keras import ops

UNKNOWN_ID = 1  # pipeline.data.vocab: 0 = padding, 1 = unknown word


@keras.saving.register_keras_serializable(package="rnnx")
class WordDropout(keras.layers.Layer):
    """Ids ``[batch, time]`` -> the same ids, each real one unknown with probability ``rate`` in training."""

    def __init__(self, rate: float, seed: int | None = None, name: str = "word_dropout", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"WordDropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids, training=None):
        if not training or self.rate == 0.0:
            return ids
        drop = keras.random.uniform(ops.shape(ids), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ops.not_equal(ids, 0))
        return ops.where(drop, ops.cast(UNKNOWN_ID, ids.dtype), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
