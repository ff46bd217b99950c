"""A frozen character LM's word features, computed once per sentence instead of once per epoch.

A frozen LM (``rnnx train --lm NAME`` without ``--lm-fine-tune``) gives every
sentence the same word features in every epoch, so training need not run it
again and again: the features of the training and dev sentences are computed
once, before the first epoch, and training fits a model that reads them
(:func:`pipeline.models.builders.build_model` with ``lm_features_in``: the
same layers, by name, without the LM's). What is saved, evaluated, exported and
checked for parity is the whole model, LM included (:func:`whole_model`).
On brown-upos this halves the time of an epoch of the LM tagger.

The features take ``4 * 2 * units`` bytes a token (1 KiB for a 128-unit LM):
beyond :data:`MAX_BYTES` the LM runs inside every training step as before.

>>> estimate_bytes(num_tokens=1_000_000, units=128) / 2**30
0.95367431640625
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from pipeline.data.features import LM_CHARS, LM_ENDS, LM_STARTS, Encoded, Encoder, collate

MAX_BYTES = 6 * 2**30  # features kept in memory at most; more and the LM runs in every step
BATCH_CHARACTERS = 16_384  # characters per batch when computing them


def estimate_bytes(num_tokens: int, units: int) -> int:
    """Memory the float32 features of ``num_tokens`` tokens take (forward and backward states)."""
    return int(num_tokens) * 2 * int(units) * 4


def feature_model(lm):
    """A Keras model ``[lm_chars, lm_starts, lm_ends] -> lm_features`` with the pretrained LM's weights."""
    from pipeline.keras_env import import_keras
    from pipeline.models.char_lm import copy_lm_weights, lm_word_features

    keras = import_keras()
    inputs, features = lm_word_features(lm.shape)
    model = keras.Model(inputs, features, name="rnnx_lm_features")
    copy_lm_weights(model, lm.model)
    return model


def with_features(encoded: list[Encoded], model) -> list[Encoded]:
    """``encoded`` with each sentence's LM features in place of its LM characters.

    Sentences are batched by character length (about :data:`BATCH_CHARACTERS` a
    batch), so little of the LM's work is padding.
    """
    lengths = [max(1, len(e.lm[0])) for e in encoded]
    batches, current = [], []
    for i in np.argsort(lengths, kind="stable"):  # ascending: the newest sentence is the longest of its batch
        if current and (len(current) + 1) * lengths[i] > BATCH_CHARACTERS:
            batches.append(current)
            current = []
        current.append(i)
    batches.append(current)
    out: list = [None] * len(encoded)
    for idx in batches:
        x = collate([encoded[i] for i in idx])
        features = np.asarray(model.predict_on_batch({k: x[k] for k in (LM_CHARS, LM_STARTS, LM_ENDS)}))
        for row, i in enumerate(idx):
            e = encoded[i]
            out[i] = Encoded(e.ids, e.chars, None, features[row, : len(e)].astype(np.float32))
    return out


@dataclass
class PrecomputedLMEncoder:
    """An :class:`~pipeline.data.features.Encoder` for training with a frozen LM: the sentences it encodes carry
    the LM's features, computed once (``encode_all``), not its characters. ``seconds`` adds up the time spent."""

    encoder: Encoder
    model: object
    seconds: float = 0.0
    tokens: int = 0

    @property
    def vocab(self):
        return self.encoder.vocab

    def encode_all(self, sentences) -> list[Encoded]:
        started = time.perf_counter()
        out = with_features(self.encoder.encode_all(sentences), self.model)
        self.seconds += time.perf_counter() - started
        self.tokens += sum(len(e) for e in out)
        return out

    def summary(self, units: int) -> dict:
        """What the cache cost, for ``metrics.json``."""
        return {"seconds": round(self.seconds, 1), "tokens": self.tokens,
                "bytes": estimate_bytes(self.tokens, units)}


def whole_model(trained, cfg, lm):
    """The deployable model: ``trained`` (which read precomputed features) with the pretrained LM layers back.

    A fresh float32 model of ``cfg`` gets ``trained``'s weights layer by layer
    (:func:`pipeline.models.builders.rebuilt_float32`) and the LM layers the
    pretrained LM's: they were frozen, so these are the weights training used.
    """
    from pipeline.models.builders import rebuilt_float32
    from pipeline.models.char_lm import copy_lm_weights

    whole = rebuilt_float32(trained, cfg)
    copy_lm_weights(whole, lm.model)
    return whole
