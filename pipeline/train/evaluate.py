"""Evaluate a Keras model on a split: accuracy (padding excluded), accuracy on
in- vs out-of-vocabulary tokens, per-label precision/recall/F1, CoNLL entity
scores for BIO/BIOES tag sets, macro-F1 for classifiers, confusion-matrix PNG.

Decoding and scoring live in :mod:`pipeline.scoring` and run on plain arrays and
label lists, so ONNX Runtime predictions are decoded and scored by the same code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.corpus import Split
from pipeline.data.features import Encoder, collate
from pipeline.data.vocab import Labels, Vocabulary
from pipeline.runtime.batches import run_batched
from pipeline.scoring.decode import argmax_labels, viterbi_labels


def keras_batch_fn(model):
    """``ids[batch, time] -> probs`` through one compiled call of ``model``.

    Models with character features take ``{"ids": ..., "chars": ...}`` (see
    :mod:`pipeline.data.features`). Under TensorFlow a ``tf.function`` with a
    dynamic-shape signature (traced once); under other Keras backends a plain
    ``predict_on_batch``.
    """
    from pipeline.keras_env import import_keras

    keras = import_keras()
    names = [t.name for t in model.inputs]
    if keras.backend.backend() != "tensorflow":
        return lambda x: np.asarray(model.predict_on_batch(x))
    import tensorflow as tf

    if len(names) == 1:
        fn = tf.function(
            lambda ids: model(ids, training=False),
            input_signature=[tf.TensorSpec([None, None], tf.int64, name="ids")],
        )
        return lambda ids: fn(tf.constant(ids, dtype=tf.int64)).numpy()
    spec = {n: tf.TensorSpec([None] * len(t.shape), tf.int64, name=n) for n, t in zip(names, model.inputs)}
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return lambda x: fn({n: tf.constant(x[n], dtype=tf.int64) for n in names}).numpy()


def predict_probs(model, encoder: Encoder, split: Split, batch_size: int = 64) -> list[np.ndarray]:
    """Keras probabilities for every sequence of ``split`` (cut to each length for taggers)."""
    encoded = encoder.encode_all(split.tokens)
    return run_batched(keras_batch_fn(model), encoded, task=split.task, batch_size=batch_size, collate=collate)


def decode_model_predictions(model, probs: list[np.ndarray], names: list[str], task: str) -> list:
    """Label strings: Viterbi paths for a CRF tagger, the most probable label otherwise."""
    if not is_crf_model(model):
        return argmax_labels(probs, names, task)
    from pipeline.models.crf import crf_weights

    return viterbi_labels(probs, names, *crf_weights(model))


def is_crf_model(model) -> bool:
    """Whether ``model`` ends in rnnx's CRF layer (its labels come from Viterbi decoding)."""
    return any(type(layer).__name__ == "CRF" for layer in model.layers)


def score(split: Split, predicted: list, vocab: Vocabulary | None, labels: Labels) -> dict:
    """Score predicted label strings against ``split``'s gold labels."""
    from pipeline.scoring.metrics import classification_report, tagging_report

    if split.task == "tagging":
        in_vocab = None
        if vocab is not None:
            in_vocab = [[tok in vocab for tok in toks] for toks in split.tokens]
        return tagging_report(split.labels, predicted, in_vocab=in_vocab)
    return classification_report(split.labels, predicted, labels=labels.names)


def evaluate_model(
    model,
    encoder: Encoder | Vocabulary,
    labels: Labels,
    split: Split,
    *,
    out_dir: Path | str | None = None,
    prefix: str = "test",
    batch_size: int = 64,
) -> dict:
    """Predict ``split`` with ``model`` and return the report (and write a PNG)."""
    if isinstance(encoder, Vocabulary):
        encoder = Encoder(encoder)
    probs = predict_probs(model, encoder, split, batch_size)
    predicted = decode_model_predictions(model, probs, labels.names, split.task)
    report = score(split, predicted, encoder.vocab, labels)
    report["split"] = split.source or prefix
    if out_dir is not None:
        from pipeline.train.plots import plot_confusion

        path = Path(out_dir) / f"{prefix}_confusion.png"
        plot_confusion(report, None, path, title=f"{prefix}: {split.source}")
        report["confusion_png"] = path.name
    return report
