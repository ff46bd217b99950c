"""The fused exporter's layers beyond the recurrent ones: convolution, pooling, reshaping,
normalization, element-wise merges, and the layers it refuses.

Each case is a tiny model (token ids -> Embedding, masked or not -> the layer, before
and after recurrent layers, so it meets both batch-major and time-major Values) with
random weights; ONNX Runtime must give Keras's output within 1e-5 (at real steps where
the output carries a mask). Refused configurations must raise ``ExportError`` naming
the layer, and ``unsupported_layers`` must list the same layer.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from pipeline.errors import ExportError  # noqa: E402
from pipeline.export.fused import convert, unsupported_layers  # noqa: E402

L = keras.layers
pytestmark = [pytest.mark.filterwarnings("ignore:.*will therefore destroy the mask information"),
              pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")]
VOCAB, EMB, UNITS = 20, 4, 5
TOL = 1e-5
IDS = np.array([[3, 5, 7, 2, 9, 4], [8, 1, 6, 0, 0, 0], [11, 0, 0, 0, 0, 0], [4, 4, 12, 13, 1, 0]], np.int64)


def _randomize(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if "moving_variance" in w.path:
            value = rng.uniform(0.3, 2.0, shape)
        elif len(shape) >= 2:
            value = rng.normal(0.0, 0.9 / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            value = rng.normal(0.0, 0.5, shape)
        w.assign(value.astype("float32"))


def _model(body, *, mask_zero=True, time=None, name="m"):
    ids = keras.Input((time,), dtype="int64", name="ids")
    x = L.Embedding(VOCAB, EMB, mask_zero=mask_zero)(ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "will destroy the mask information": expected, that is the point
        out = body(x)
    model = keras.Model(ids, out, name=name)
    _randomize(model)
    return model


def _run(model, ids=IDS):
    proto = convert(model)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"ids": ids})[0], proto


def assert_parity(model, ids=IDS):
    got, proto = _run(model, ids)
    want = np.asarray(model(ids, training=False))
    assert got.shape == want.shape
    mask = getattr(model.outputs[0], "_keras_mask", None)
    if mask is not None and want.ndim == 3:
        real = np.asarray(keras.Model(model.inputs, mask)({"ids": ids})).astype(bool)  # Keras's own mask
        got, want = got[real], want[real]
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
    return proto


def _ops(proto) -> set[str]:
    return {n.op_type for n in proto.graph.node}


def lstm(seq=True, **kw):
    return L.LSTM(UNITS, return_sequences=seq, **kw)


def dense(x):
    return L.Dense(3)(x)


# -- Conv1D -------------------------------------------------------------------------------

CONV_CASES = {
    "valid": dict(filters=4, kernel_size=3),
    "same_dilated": dict(filters=4, kernel_size=3, padding="same", dilation_rate=2),
    "same_even_kernel": dict(filters=3, kernel_size=4, padding="same"),
    "same_strided": dict(filters=4, kernel_size=3, padding="same", strides=2),
    "causal_dilated": dict(filters=4, kernel_size=2, padding="causal", dilation_rate=3),
    "valid_strided": dict(filters=2, kernel_size=2, strides=3),
    "groups_relu_no_bias": dict(filters=6, kernel_size=3, padding="same", groups=2, activation="relu",
                                use_bias=False),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv1d_after_embedding(case):
    """Keras drops the mask at Conv1D and convolves every step, padding ids' vectors included."""
    assert_parity(_model(lambda x: dense(L.Conv1D(**CONV_CASES[case])(x))))


@pytest.mark.parametrize("case", ["same_dilated", "causal_dilated", "same_strided"])
def test_conv1d_around_recurrent_layers(case):
    """Conv1D reading an unmasked time-major LSTM output, and feeding a GRU tagger."""
    model = _model(lambda x: dense(L.GRU(UNITS, return_sequences=True)(L.Conv1D(**CONV_CASES[case])(lstm()(x)))),
                   mask_zero=False)
    assert_parity(model)


# -- pooling ------------------------------------------------------------------------------

POOL_CASES = {
    "max_valid": (L.MaxPooling1D, dict(pool_size=2)),
    "max_same_stride1": (L.MaxPooling1D, dict(pool_size=3, strides=1, padding="same")),
    "max_same_strided": (L.MaxPooling1D, dict(pool_size=2, strides=2, padding="same")),
    "avg_valid": (L.AveragePooling1D, dict(pool_size=3, strides=1)),
    "avg_same_stride1": (L.AveragePooling1D, dict(pool_size=3, strides=1, padding="same")),
    "avg_same_strided": (L.AveragePooling1D, dict(pool_size=4, strides=3, padding="same")),
}


@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_windowed_pooling(case):
    """After an Embedding (batch of 6 steps, odd and even windows) and after a time-major LSTM."""
    cls, kw = POOL_CASES[case]
    assert_parity(_model(lambda x: dense(cls(**kw)(x))))
    assert_parity(_model(lambda x: dense(lstm()(cls(**kw)(lstm()(x)))), mask_zero=False), IDS[:, :5])


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_max_pooling(keepdims):
    assert_parity(_model(lambda x: dense(L.GlobalMaxPooling1D(keepdims=keepdims)(lstm()(x))), mask_zero=False))
    assert_parity(_model(lambda x: dense(L.GlobalMaxPooling1D(keepdims=keepdims)(x))))


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling_uses_the_mask(masked, keepdims):
    """Keras averages over the real steps only (the mask reaches the layer through the LSTM)."""
    proto = assert_parity(_model(lambda x: dense(L.GlobalAveragePooling1D(keepdims=keepdims)(lstm()(x))),
                                 mask_zero=masked))
    assert ("Where" in _ops(proto)) == masked


def test_global_average_pooling_of_an_empty_row_is_nan_as_in_keras():
    model = _model(lambda x: L.GlobalAveragePooling1D()(x))
    ids = np.array([[1, 2, 0], [0, 0, 0]])
    got, _ = _run(model, ids)
    want = np.asarray(model(ids))
    assert np.isnan(want[1]).all() and np.isnan(got[1]).all()
    np.testing.assert_allclose(got[0], want[0], atol=TOL)


# -- reshaping ----------------------------------------------------------------------------

def test_repeat_vector_feeds_a_decoder():
    """Encoder-decoder shape: LSTM -> RepeatVector -> GRU(return_sequences) -> Dense."""
    model = _model(lambda x: dense(L.GRU(UNITS, return_sequences=True)(L.RepeatVector(3)(lstm(seq=False)(x)))))
    assert_parity(model)


def test_reshape_and_flatten():
    assert_parity(_model(lambda x: dense(lstm(seq=False)(L.Reshape((-1, 2))(x)))))
    assert_parity(_model(lambda x: dense(L.Flatten()(lstm()(x))), mask_zero=False, time=6))
    assert_parity(_model(lambda x: dense(L.Reshape((3, 2 * UNITS))(lstm()(x))), mask_zero=False, time=6))


TIME_CASES = {
    "zero_padding": lambda: L.ZeroPadding1D((2, 1)),
    "cropping": lambda: L.Cropping1D((1, 2)),
    "cropping_left": lambda: L.Cropping1D((2, 0)),
    "up_sampling": lambda: L.UpSampling1D(3),
    "rms_normalization": lambda: L.RMSNormalization(epsilon=1e-3),
}


@pytest.mark.parametrize("case", sorted(TIME_CASES))
def test_time_axis_layers(case):
    """After a masked Embedding (Keras drops the mask), around an unmasked time-major LSTM."""
    assert_parity(_model(lambda x: dense(TIME_CASES[case]()(x))))
    assert_parity(_model(lambda x: dense(lstm()(TIME_CASES[case]()(lstm()(x)))), mask_zero=False))


def test_flatten_channels_first():
    assert_parity(_model(lambda x: dense(L.Flatten(data_format="channels_first")(lstm()(x))), mask_zero=False,
                         time=6))


def test_permute():
    """Permute of a time-major LSTM output (one Transpose), then a Dense across time."""
    model = _model(lambda x: dense(L.Permute((2, 1))(lstm()(x))), mask_zero=False, time=6)
    proto = assert_parity(model)
    assert sum(n.op_type == "Transpose" for n in proto.graph.node) <= 2


# -- normalization ------------------------------------------------------------------------

NORM_CASES = {
    "bn": lambda: L.BatchNormalization(),
    "bn_no_center_scale": lambda: L.BatchNormalization(center=False, scale=False, epsilon=0.1),
    "ln": lambda: L.LayerNormalization(),
    "ln_rms": lambda: L.LayerNormalization(rms_scaling=True),
    "ln_plain": lambda: L.LayerNormalization(center=False, scale=False, epsilon=1e-2),
}


@pytest.mark.parametrize("case", sorted(NORM_CASES))
def test_normalization_keeps_the_mask(case):
    """Before a masked LSTM (the mask passes through) and after a masked tagger LSTM."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_parity(_model(lambda x: dense(lstm()(NORM_CASES[case]()(x)))))
        assert_parity(_model(lambda x: dense(NORM_CASES[case]()(lstm()(x)))))


def test_normalization_over_other_axes():
    """BatchNormalization over time, LayerNormalization over (time, features), with static time."""
    assert_parity(_model(lambda x: dense(L.BatchNormalization(axis=1)(lstm()(x))), mask_zero=False, time=6))
    assert_parity(_model(lambda x: dense(L.LayerNormalization(axis=[2, 1])(lstm()(x))), mask_zero=False, time=6))


# -- element-wise merges --------------------------------------------------------------------

def _two_branches(merge, n=2):
    def body(x):
        branches = [lstm()(x), L.GRU(UNITS, return_sequences=True)(x), lstm(go_backwards=False)(x)][:n]
        return dense(merge(branches))
    return body


@pytest.mark.parametrize("cls,n", [(L.Add, 3), (L.Subtract, 2), (L.Average, 3), (L.Multiply, 3), (L.Maximum, 3),
                                   (L.Minimum, 2)])
def test_merges_of_masked_sequences(cls, n):
    """The output mask is Keras's OR of the inputs' masks (logical_or in the graph); Multiply, Maximum and
    Minimum also use the masks inside the layer, which the converter reproduces."""
    model = _model(_two_branches(cls(), n))
    assert model.outputs[0]._keras_mask is not None
    assert_parity(model)


@pytest.mark.parametrize("cls", [L.Add, L.Multiply, L.Maximum, L.Minimum, L.Average])
def test_merges_of_unmasked_sequences(cls):
    assert_parity(_model(_two_branches(cls(), 3), mask_zero=False))


def test_merge_of_states_broadcast_over_time():
    """[batch, 1, F] + [batch, T, F]: a GlobalAveragePooling1D(keepdims) summary added at every step."""
    def body(x):
        seq = lstm()(x)
        return dense(L.Add()([seq, L.GlobalAveragePooling1D(keepdims=True)(seq)]))
    assert_parity(_model(body, mask_zero=False))


# -- masked steps that Keras fills with zeros -------------------------------------------------

@pytest.mark.parametrize("rnn", ["bidirectional", "go_backwards"])
def test_mask_dropping_layers_after_recurrent_layers_with_zeros_at_masked_steps(rnn):
    """Bidirectional sequences and go_backwards layers hold 0 at masked steps in Keras, as in ONNX."""
    def body(x):
        layer = L.Bidirectional(L.GRU(3, return_sequences=True)) if rnn == "bidirectional" else \
            lstm(go_backwards=True)
        y = layer(x)
        return L.Concatenate()([L.GlobalMaxPooling1D()(y), L.Flatten()(L.Conv1D(2, 3, padding="same")(y))])
    assert_parity(_model(body, time=6))


CARRIED = {
    "conv": lambda x: dense(L.Conv1D(3, 3, padding="same")(lstm()(x))),
    "global_max": lambda x: dense(L.GlobalMaxPooling1D()(L.Dense(4)(lstm()(x)))),
    "reshape": lambda x: dense(L.Reshape((-1, 1))(lstm()(x))),
    "simplernn_avg_pool": lambda x: dense(L.AveragePooling1D(2, padding="same")(
        L.SimpleRNN(4, return_sequences=True)(x))),
}


@pytest.mark.parametrize("case", sorted(CARRIED))
def test_mask_dropping_layers_read_keras_carried_steps_with_exact_masks(case):
    """Keras fills masked steps of a forward LSTM with its last real output; masks="exact" writes the same,
    masks="right" (zeros there) refuses the layer, and unsupported_layers says so for each mode."""
    from pipeline.export import to_onnx

    model = _model(CARRIED[case])
    ids = np.array([[3, 5, 0, 0, 0, 0], [0, 0, 6, 7, 8, 0], [1, 0, 2, 0, 3, 4]])  # right, left, holes
    assert unsupported_layers(model, io="keras") == []
    sess = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"ids": ids})[0], np.asarray(model(ids)), atol=TOL, rtol=0)
    problems = unsupported_layers(model, masks="right")
    assert len(problems) == 1 and "masks='exact'" in problems[0], problems
    with pytest.raises(ExportError, match="masks='exact'"):
        convert(model, masks="right")


# -- float inputs through to_onnx: left-padded and holed masks ---------------------------------

FLOAT = np.random.default_rng(1).normal(size=(4, 6, 3)).astype("float32")
FLOAT[0, :2] = 0.0          # left padding
FLOAT[1, 1] = FLOAT[1, 4] = 0.0  # holes
FLOAT[2, 3:] = 0.0          # right padding


def _float_model(body, time=None):
    x = keras.Input((time, 3), name="x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras.Model(x, body(L.Masking(0.0)(x)))
    _randomize(model)
    return model


FLOAT_CASES = {
    "conv_then_masked_lstm": lambda x: dense(lstm()(L.Masking(0.0)(L.Conv1D(4, 3, padding="causal")(x)))),
    "bn_ln_keep_the_mask": lambda x: dense(L.LayerNormalization()(lstm()(L.BatchNormalization()(x)))),
    "gap_over_holes": lambda x: dense(L.GlobalAveragePooling1D()(lstm()(x))),
    "add_average": lambda x: dense(L.Average()([L.Add()([lstm()(x), lstm()(x)]), lstm()(x)])),
    "multiply_maximum_minimum": lambda x: dense(L.Minimum()([L.Multiply()([lstm()(x), lstm()(x)]),
                                                            L.Maximum()([lstm()(x), lstm(go_backwards=True)(x)])])),
    "bi_then_pool": lambda x: dense(L.MaxPooling1D(2, padding="same")(L.Bidirectional(lstm())(x))),
    "repeat_decoder": lambda x: dense(L.GRU(UNITS, return_sequences=True)(L.RepeatVector(4)(lstm(seq=False)(x)))),
}


@pytest.mark.parametrize("case", sorted(FLOAT_CASES))
def test_float_inputs_with_any_mask(case):
    """to_onnx (exact masks): every position compared, as Keras computes it."""
    from pipeline.export import to_onnx

    model = _float_model(FLOAT_CASES[case])
    proto = to_onnx(model)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: FLOAT})[0]
    want = np.asarray(model(FLOAT, training=False))
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


# -- refusals -----------------------------------------------------------------------------

REFUSED = {
    "lambda": (lambda x: dense(L.Lambda(lambda t: t * 2, name="bad")(x)), "Lambda runs arbitrary Python"),
    "conv_after_masked_lstm": (lambda x: dense(L.Conv1D(3, 2, name="bad")(lstm()(x))), "masked output of"),
    "pool_after_masked_lstm": (lambda x: dense(L.GlobalMaxPooling1D(name="bad")(lstm()(x))), "masked output of"),
    "reshape_after_masked_lstm": (lambda x: dense(L.Reshape((-1, 1), name="bad")(lstm()(x))), "masked output of"),
    "add_of_different_ranks": (lambda x: dense(L.Add(name="bad")([lstm()(x), lstm(seq=False)(x)])), "ranks"),
    "channels_first": (lambda x: dense(L.Conv1D(3, 2, data_format="channels_first", name="bad")(x)),
                       "channels_first"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_layers_are_named_before_anything_is_written(case):
    body, why = REFUSED[case]
    model = _model(body, time=6)
    problems = unsupported_layers(model)
    assert any(p.startswith("bad (") and why in p for p in problems), problems
    with pytest.raises(ExportError, match=r"bad \(") as err:
        convert(model)
    assert why in str(err.value)
