"""WordDropout (``pipeline/models/word_dropout.py``): training-only unknown-word replacement.

* in training, about ``rate`` of the real tokens become the unknown id, padding never
  does, and the rest keep their ids; at inference the ids pass through unchanged;
* a built model with ``word_dropout`` exports through the fused converter with no
  node for the layer and matches Keras; it round-trips through save and a fresh
  ``load_model``; bad rates are refused with the argument named.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from pipeline.errors import ConfigError  # noqa: E402
from pipeline.export.fused import convert, unsupported_layers  # noqa: E402
from pipeline.models import build_model, load_model  # noqa: E402
from pipeline.models.config import ModelConfig  # noqa: E402
from pipeline.models.word_dropout import UNKNOWN_ID, WordDropout  # noqa: E402


def ids_batch(seed: int = 0, batch: int = 64, time: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, 50, (batch, time))
    lengths = rng.integers(1, time + 1, batch)
    ids[np.arange(time)[None, :] >= lengths[:, None]] = 0
    return ids


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_training_replaces_about_rate_of_the_real_tokens_and_never_padding(rate):
    ids = ids_batch()
    out = np.asarray(WordDropout(rate, seed=3)(ids, training=True))
    real = ids != 0
    dropped = real & (out != ids)
    assert np.all(out[dropped] == UNKNOWN_ID)
    assert np.all(out[~real] == 0)
    share = dropped.sum() / real.sum()
    assert abs(share - rate) < 0.05, share


def test_inference_and_rate_zero_pass_ids_through():
    ids = ids_batch(1)
    np.testing.assert_array_equal(np.asarray(WordDropout(0.5)(ids)), ids)
    np.testing.assert_array_equal(np.asarray(WordDropout(0.0)(ids, training=True)), ids)


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ValueError, match="rate must be in"):
        WordDropout(rate)
    with pytest.raises(ConfigError, match="word_dropout must be in"):
        ModelConfig("tagging", word_dropout=rate)


def small_tagger(**extra):
    keras.utils.set_random_seed(0)
    cfg = ModelConfig("tagging", "gru", units=6, embedding_dim=5, vocab_size=50, num_labels=4,
                      word_dropout=0.2, **extra)
    return build_model(cfg)


def test_fused_export_writes_no_node_and_matches_keras():
    model = small_tagger()
    assert isinstance(model.get_layer("word_dropout"), WordDropout)
    assert unsupported_layers(model) == []
    proto = convert(model)
    assert not any("word_dropout" in n.name for n in proto.graph.node)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    ids = ids_batch(2, batch=8, time=12)
    want = np.asarray(model(ids, training=False))
    got = session.run(None, {"ids": ids})[0]
    real = ids != 0
    assert float(np.abs(got[real] - want[real]).max()) < 1e-5


def test_trains_and_round_trips_through_save(tmp_path):
    model = small_tagger()
    ids = ids_batch(4, batch=16, time=10)
    labels = np.random.default_rng(0).integers(0, 4, ids.shape)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(ids, labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = tmp_path / "wd.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_layer("word_dropout").rate == pytest.approx(0.2)
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)
