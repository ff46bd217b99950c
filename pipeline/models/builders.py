"""Keras tagger and classifier builders.

Both share one encoder::

    ids [batch, time] (0 = padding, 1 = unknown word)
      [ -> WordDropout   with cfg.word_dropout: training only ]
      -> Embedding(mask_zero=True)    [ unless cfg.word_embedding is False: then words are only read
                                        through their characters; ``ids`` still carries the padding ]
         [ ++ CharCNN(chars [batch, time, chars])   with cfg.chars ]
         [ ++ character-LM states at each token's boundaries (lm_chars, lm_starts, lm_ends)   with cfg.lm ]
      -> Dropout
      -> N x (SimpleRNN | LSTM | GRU, optionally Bidirectional(concat)) -> Dropout
         [ classifiers with cfg.pooling max/mean: StatePooling over all states ]
      -> Dense(softmax)
         [ -> CRF   with cfg.crf: a CRFTagger, trained on the CRF likelihood ]

With ``chars`` every word is also read character by character (Ma & Hovy 2016):
what lets a tagger label words it never saw. With ``crf`` the softmax output
stays the model's output (per-token label probabilities) and the CRF layer on
top holds the tag-transition scores; the best tag sequence comes from Viterbi
decoding (:func:`pipeline.scoring.decode.viterbi`, and inside the exported graph).

A tagger keeps ``return_sequences=True`` on every recurrent layer and predicts a
label per token. A classifier's last recurrent layer returns only its final
state: under the padding mask Keras returns the state at the last real token, and
a bidirectional layer concatenates that with the backward state that has read the
whole text. With ``pooling="max"`` or ``"mean"`` it returns every state instead and
:class:`~pipeline.models.pooling.StatePooling` pools them over the real tokens.

Layer settings stay cuDNN-eligible (tanh/sigmoid, no recurrent dropout,
``reset_after=True`` for GRU), so the same model trains on a GPU's fused kernels.

>>> from pipeline.models.config import ModelConfig
>>> m = build_model(ModelConfig("tagging", "gru", bidirectional=False, units=8,
...                              embedding_dim=4, vocab_size=20, num_labels=3))
>>> [layer.__class__.__name__ for layer in m.layers]
['InputLayer', 'Embedding', 'Dropout', 'GRU', 'Dropout', 'Dense']
>>> m.output_shape
(None, None, 3)
"""

from __future__ import annotations

from pipeline.errors import ConfigError
from pipeline.models.config import ModelConfig


def _cells():
    import keras

    return {"simplernn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def recurrent_layer(cfg: ModelConfig, index: int, return_sequences: bool):
    """One recurrent layer of the encoder, bidirectional if the config says so."""
    import keras

    cell = _cells()[cfg.cell]
    layer = cell(cfg.units, return_sequences=return_sequences, name=f"{cfg.cell}_{index}")
    if cfg.bidirectional:
        layer = keras.layers.Bidirectional(layer, merge_mode="concat", name=f"bi{cfg.cell}_{index}")
    return layer


def _with_lm_features(cfg: ModelConfig, inputs: list, x, precomputed: bool):
    """``x`` (``None`` without other word features) concatenated with the character LM's word features; the LM's
    inputs appended to ``inputs``.

    The LM layers start with random weights: :func:`pipeline.models.char_lm.copy_lm_weights` gives them the
    pretrained ones (training does it once, before the first epoch). With ``precomputed`` the model has no LM
    layers: it reads the features a frozen LM gave, ``lm_features [batch, time, 2 * units]`` (see
    :mod:`pipeline.train.lm_cache`)."""
    import keras

    from pipeline.models.char_lm import LMShape, lm_word_features, precomputed_word_features

    if cfg.lm_num_chars < 3 or cfg.lm_units < 1 or cfg.lm_char_dim < 1:
        raise ConfigError(f"lm {cfg.lm!r}: lm_num_chars, lm_units and lm_char_dim come from the pretrained LM; load it with "
                          "pipeline.train.lm_run.load_lm and fill them in")
    shape = LMShape(cfg.lm_num_chars, cfg.lm_char_dim, cfg.lm_units)
    if precomputed:
        if cfg.lm_fine_tune:
            raise ConfigError("a fine-tuned LM's features change as it trains; they cannot be precomputed")
        lm_inputs, features = precomputed_word_features(shape, ids=inputs[0])
    else:
        lm_inputs, features = lm_word_features(shape, fine_tune=cfg.lm_fine_tune)
    inputs.extend(lm_inputs)
    return features if x is None else keras.layers.Concatenate(name="lm_word_features")([x, features])


def build_model(cfg: ModelConfig, *, lm_features_in: bool = False):
    """Build the (uncompiled) Keras model that ``cfg`` describes.

    ``lm_features_in`` (a frozen ``cfg.lm`` only) builds the model training uses when the LM's word features are
    computed once: the same layers, by name, less the LM's, with an ``lm_features`` input in their place."""
    import keras

    if cfg.vocab_size < 3:
        raise ConfigError(f"vocab_size must be at least 3 (padding, unknown, one word), got {cfg.vocab_size}")
    if cfg.num_labels < 2:
        raise ConfigError(f"a model needs at least 2 labels, got {cfg.num_labels}")
    ids = keras.Input(shape=(None,), dtype="int64", name="ids")
    inputs = [ids]
    words = ids
    if cfg.word_dropout:
        from pipeline.models.word_dropout import WordDropout

        words = WordDropout(cfg.word_dropout, name="word_dropout")(ids)
    x = None
    if cfg.word_embedding:
        x = keras.layers.Embedding(cfg.vocab_size, cfg.embedding_dim, mask_zero=True, name="embedding")(words)
    if cfg.chars:
        from pipeline.models.chars import CharCNN

        if cfg.num_chars < 3:
            raise ConfigError(f"num_chars must be at least 3 (padding, unknown, one character), got {cfg.num_chars}")
        chars = keras.Input(shape=(None, None), dtype="int64", name="chars")
        inputs.append(chars)
        words = CharCNN(cfg.num_chars, char_dim=cfg.char_dim, filters=cfg.char_filters, width=cfg.char_width,
                        name="char_cnn")(chars)
        x = words if x is None else keras.layers.Concatenate(name="word_features")([x, words])
    if cfg.lm:
        x = _with_lm_features(cfg, inputs, x, lm_features_in)
    x = keras.layers.Dropout(cfg.dropout, name="embedding_dropout")(x)
    for i in range(cfg.layers):
        last = i == cfg.layers - 1
        pooled = last and cfg.task == "classification" and cfg.pooling != "last"
        return_sequences = cfg.task == "tagging" or not last or pooled
        x = recurrent_layer(cfg, i, return_sequences)(x)
        if pooled:
            from pipeline.models.pooling import StatePooling

            x = StatePooling(cfg.pooling, name=f"{cfg.pooling}_pooling")(x)
        x = keras.layers.Dropout(cfg.dropout, name=f"dropout_{i}")(x)
    probs = keras.layers.Dense(cfg.num_labels, activation="softmax", dtype="float32", name="probs")(x)
    name = f"rnnx_{cfg.task}_{'bi' if cfg.bidirectional else ''}{cfg.cell}"
    model_inputs = inputs if len(inputs) > 1 else ids
    if cfg.crf:
        from pipeline.models.crf import CRF, CRFTagger

        return CRFTagger(inputs=model_inputs, outputs=CRF(cfg.num_labels, name="crf")(probs), name=name + "_crf")
    return keras.Model(model_inputs, probs, name=name)


def rebuilt_float32(trained, cfg: ModelConfig):
    """A fresh float32 model of ``cfg`` holding ``trained``'s weights, layer by layer by name.

    What is saved after mixed-precision training, or after training on precomputed LM features (whose model
    lacks the LM layers: they keep their fresh weights here, for the caller to fill)."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    fresh = build_model(cfg)
    names = {layer.name for layer in fresh.layers}
    for layer in trained.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if layer.name not in names:
            raise ValueError(f"layer {layer.name} of the trained model is not in a model of {cfg.describe()}")
        fresh.get_layer(layer.name).set_weights([w.astype("float32") for w in weights])
    return fresh
