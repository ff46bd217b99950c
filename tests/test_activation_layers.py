"""Keras activation layers through the fused exporter: equal to Keras after a recurrent layer and on raw features."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from pipeline.errors import ExportError  # noqa: E402
from pipeline.export import to_onnx  # noqa: E402
from pipeline.export.fused import unsupported_layers  # noqa: E402

LAYERS = {
    "relu": lambda: keras.layers.ReLU(),
    "relu-max-slope-threshold": lambda: keras.layers.ReLU(max_value=0.3, negative_slope=0.2, threshold=0.1),
    "leaky-relu": lambda: keras.layers.LeakyReLU(negative_slope=0.5),
    "elu": lambda: keras.layers.ELU(alpha=0.7),
    "prelu-shared-time": lambda: keras.layers.PReLU(alpha_initializer=keras.initializers.RandomNormal(seed=3),
                                                    shared_axes=[1]),
    "softmax": lambda: keras.layers.Softmax(),
    "softmax-two-axes": lambda: keras.layers.Softmax(axis=(1, 2)),
}


def parity(model, batch):
    got = ort.InferenceSession(to_onnx(model).SerializeToString()).run(None, {model.inputs[0].name: batch})[0]
    return float(np.abs(got - np.asarray(model(batch))).max())


@pytest.mark.parametrize("after_rnn", [True, False], ids=["after-lstm", "on-features"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_activation_layer_matches_keras(name, after_rnn):
    x = keras.Input((None, 4), name="x")
    h = keras.layers.LSTM(5, return_sequences=True)(x) if after_rnn else x
    y = keras.layers.GRU(3, return_sequences=True)(LAYERS[name]()(h))
    model = keras.Model(x, y)
    batch = np.random.default_rng(1).normal(size=(3, 6, 4)).astype(np.float32)
    assert parity(model, batch) < 1e-5


def test_prelu_with_a_slope_per_step_uses_the_keras_layout():
    x = keras.Input((6, 4), name="x")
    h = keras.layers.LSTM(5, return_sequences=True)(x)
    y = keras.layers.PReLU(alpha_initializer=keras.initializers.RandomNormal(seed=1))(h)
    model = keras.Model(x, keras.layers.Flatten()(y))
    batch = np.random.default_rng(2).normal(size=(2, 6, 4)).astype(np.float32)
    assert parity(model, batch) < 1e-5


def test_masked_softmax_is_refused_before_conversion():
    ids = keras.Input((3,), dtype="int64", name="ids")
    scores = keras.layers.Embedding(10, 3, mask_zero=True)(ids)
    masked = keras.Model(ids, keras.layers.Softmax(name="soft")(scores))
    problems = unsupported_layers(masked, io="keras")
    assert any(p.startswith("soft (Softmax: a Softmax called with a mask") for p in problems), problems
    with pytest.raises(ExportError, match=r"soft \(Softmax"):
        to_onnx(masked)
