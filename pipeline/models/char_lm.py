"""Character language models and the word features they give (contextual string embeddings, Akbik et al. 2018).

One bidirectional character LSTM reads a sentence as characters
(:mod:`pipeline.data.lm_text`: tokens joined by spaces). Pretrained by
``rnnx pretrain-lm``, its forward half predicts the next character and its
backward half the previous one::

    lm_chars [batch, L] -> Embedding(mask_zero) -> Bidirectional(LSTM, merge_mode=None) -> forward, backward
    pretraining:  forward -> Dense(chars) "next"     backward -> Dense(chars) "prev"
    features:     WordBoundaryStates(forward, backward, lm_starts, lm_ends) -> [batch, time, 2 * units]

A tagger or classifier built with ``ModelConfig(lm=...)`` holds the same
``lm_embedding`` and ``char_lm`` layers (their weights copied from the
pretrained LM by :func:`copy_lm_weights`, frozen unless ``lm_fine_tune``), and
concatenates each token's LM features with its word embedding (and character
CNN features). The fused exporter writes the character LSTM as one
bidirectional ONNX ``LSTM`` op over the sentence's characters, followed by two
``Gather`` ops at the word boundaries (``pipeline/export/fused/char_lm.py``).

>>> import numpy as np
>>> m = build_lm(LMShape(num_chars=12, char_dim=4, units=5))
>>> [o.shape for o in m.outputs]
[(None, None, 12), (None, None, 12)]
>>> f = np.ones((1, 6, 2), "float32") * np.arange(6)[None, :, None]
>>> b = -f
>>> starts, ends = np.array([[1, 3, 0]]), np.array([[1, 4, 0]])
>>> np.asarray(WordBoundaryStates()([f, b, starts, ends]))[0].tolist()
[[1.0, 1.0, -1.0, -1.0], [4.0, 4.0, -3.0, -3.0], [0.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import ops

LM_CHARS, LM_STARTS, LM_ENDS = "lm_chars", "lm_starts", "lm_ends"
EMBEDDING, RECURRENT = "lm_embedding", "char_lm"


@dataclass(frozen=True)
class LMShape:
    """The size of a character LM: its character table, character embedding and LSTM units per direction."""

    num_chars: int
    char_dim: int = 32
    units: int = 256
    dropout: float = 0.1  # pretraining only: on the states before the prediction heads

    def __post_init__(self) -> None:
        for what, n, low in (("num_chars", self.num_chars, 3), ("char_dim", self.char_dim, 1),
                             ("units", self.units, 1)):
            if int(n) < low:
                raise ValueError(f"character LM {what} must be at least {low}, got {n}")

    def to_json(self) -> dict:
        return asdict(self)


def lm_layers(shape: LMShape, *, trainable: bool = True):
    """The shared part: ``(embedding, bidirectional LSTM)``, named as :func:`copy_lm_weights` expects."""
    embedding = keras.layers.Embedding(shape.num_chars, shape.char_dim, mask_zero=True, name=EMBEDDING,
                                       trainable=trainable)
    recurrent = keras.layers.Bidirectional(keras.layers.LSTM(shape.units, return_sequences=True),
                                           merge_mode=None, name=RECURRENT)
    recurrent.trainable = trainable  # the setter reaches both directions (a constructor argument does not)
    return embedding, recurrent


def build_lm(shape: LMShape):
    """The pretraining model: ``lm_chars`` -> logits of the next (``next``) and previous (``prev``) character."""
    chars = keras.Input((None,), dtype="int64", name=LM_CHARS)
    embedding, recurrent = lm_layers(shape)
    forward, backward = recurrent(embedding(chars))
    outputs = []
    for name, states in (("next", forward), ("prev", backward)):
        states = keras.layers.Dropout(shape.dropout, name=f"{name}_dropout")(states)
        outputs.append(keras.layers.Dense(shape.num_chars, dtype="float32", name=name)(states))
    return keras.Model(chars, outputs, name="rnnx_char_lm")


def lm_targets(chars):
    """``(next, prev)`` targets of a right-padded ``[batch, L]`` id array (0 where there is nothing to predict).

    >>> import numpy as np
    >>> n, p = lm_targets(np.array([[5, 6, 7, 0]]))
    >>> n.tolist(), p.tolist()
    ([[6, 7, 0, 0]], [[0, 5, 6, 0]])
    """
    import numpy as np

    nxt = np.zeros_like(chars)
    prev = np.zeros_like(chars)
    nxt[:, :-1] = chars[:, 1:]
    prev[:, 1:] = chars[:, :-1] * (chars[:, 1:] != 0)
    return nxt, prev


def lm_word_features(shape: LMShape, *, fine_tune: bool = False):
    """Inputs and output of the LM features inside a tagger/classifier: ``([chars, starts, ends], features)``."""
    chars = keras.Input((None,), dtype="int64", name=LM_CHARS)
    starts = keras.Input((None,), dtype="int64", name=LM_STARTS)
    ends = keras.Input((None,), dtype="int64", name=LM_ENDS)
    embedding, recurrent = lm_layers(shape, trainable=fine_tune)
    forward, backward = recurrent(embedding(chars))
    return [chars, starts, ends], WordBoundaryStates(name="lm_features")([forward, backward, starts, ends])


def precomputed_word_features(shape: LMShape, ids):
    """Inputs and output of LM features computed beforehand (a frozen LM): ``([features], masked features)``.

    ``features`` is ``lm_features [batch, time, 2 * units]``, what :func:`lm_word_features` would give; the
    token mask comes from the word ``ids`` (0 where padded), as the LM's comes from ``lm_starts``."""
    features = keras.Input((None, 2 * shape.units), dtype="float32", name="lm_features")
    return [features], MaskedLike(name="lm_features_masked")([features, ids])


def copy_lm_weights(model, lm) -> None:
    """Give ``model``'s LM layers the pretrained weights of ``lm`` (same names and shapes)."""
    for name in (EMBEDDING, RECURRENT):
        target, source = model.get_layer(name), lm.get_layer(name)
        shapes = [tuple(w.shape) for w in target.get_weights()], [tuple(w.shape) for w in source.get_weights()]
        if shapes[0] != shapes[1]:
            raise ValueError(f"layer {name}: the model's weights {shapes[0]} do not match the LM's {shapes[1]}")
        target.set_weights(source.get_weights())


@keras.saving.register_keras_serializable(package="rnnx")
class WordBoundaryStates(keras.layers.Layer):
    """``[forward, backward, starts, ends]`` -> ``[batch, time, 2H]``: forward at each token's last character,
    backward at its first; 0 for padding tokens (``starts == 0``), which are also its mask."""

    def __init__(self, name: str = "lm_features", **kwargs):
        super().__init__(name=name, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        forward, backward, starts, ends = inputs
        shape = ops.shape(forward)
        batch, length = shape[0], shape[1]
        offsets = ops.expand_dims(ops.arange(batch, dtype="int32") * ops.cast(length, "int32"), 1)
        picked = []
        for states, where in ((forward, ends), (backward, starts)):
            flat = ops.reshape(states, (-1, ops.shape(states)[-1]))
            picked.append(ops.take(flat, ops.cast(where, "int32") + offsets, axis=0))
        out = ops.concatenate(picked, axis=-1)
        return ops.where(ops.expand_dims(ops.greater(starts, 0), -1), out, ops.zeros_like(out))

    def compute_mask(self, inputs, mask=None):
        return ops.greater(inputs[2], 0)

    def compute_output_shape(self, input_shape):
        f, b, starts = input_shape[0], input_shape[1], input_shape[2]
        return (starts[0], starts[1], f[-1] + b[-1])


@keras.saving.register_keras_serializable(package="rnnx")
class MaskedLike(keras.layers.Layer):
    """``[features, ids]`` -> ``features``, masked where ``ids`` is 0 (padding).

    >>> import numpy as np
    >>> layer = MaskedLike()
    >>> np.asarray(layer.compute_mask([np.ones((1, 2, 3)), np.array([[4, 0]])])).tolist()
    [[True, False]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return inputs[0]

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs[1], 0)

    def compute_output_shape(self, input_shape):
        return input_shape[0]
