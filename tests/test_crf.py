"""The CRF output layer: its loss and decode against brute force over all paths,
training through ``model.fit`` (graph mode), save/load, and the fused ONNX export
whose in-graph Viterbi ``tags`` equal the numpy decode."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

from pipeline.export.contract import INPUT_NAME  # noqa: E402
from pipeline.export.fused import convert, unsupported_layers  # noqa: E402
from pipeline.models.crf import CRF, CRFTagger, crf_nll, crf_weights, decode  # noqa: E402
from pipeline.scoring.decode import EMISSION_FLOOR, viterbi  # noqa: E402

LABELS = 3


# -- brute force ----------------------------------------------------------------------

def random_case(rng, batch, time, lengths=None):
    logits = rng.normal(size=(batch, time, LABELS)) * 2
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    probs[0, 0] = [1.0, 0.0, 0.0]  # emissions at the floor somewhere
    if lengths is None:
        lengths = rng.integers(0, time + 1, size=batch)
    lengths = np.asarray(lengths)
    tags = rng.integers(0, LABELS, size=(batch, time))
    weights = tuple(rng.normal(size=s).astype(np.float32) for s in ((LABELS, LABELS), (LABELS,), (LABELS,)))
    return probs, tags, lengths, weights


def path_score(e, path, trans, start, end):
    s = start[path[0]] + end[path[-1]] + sum(e[t, y] for t, y in enumerate(path))
    return s + sum(trans[a, b] for a, b in zip(path[:-1], path[1:]))


def brute_force(probs, lengths, weights):
    """Per row: (log Z, best path) over all L**len paths, in float64."""
    e = np.log(np.maximum(probs.astype(np.float64), EMISSION_FLOOR))
    trans, start, end = (w.astype(np.float64) for w in weights)
    out = []
    for row, n in zip(e, lengths):
        if n == 0:
            out.append((None, ()))
            continue
        paths = list(itertools.product(range(LABELS), repeat=int(n)))
        scores = np.array([path_score(row, p, trans, start, end) for p in paths])
        log_z = scores.max() + np.log(np.exp(scores - scores.max()).sum())
        out.append((log_z, paths[int(scores.argmax())]))
    return out


def padded_mask(lengths, time):
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]


@pytest.mark.parametrize("seed,time,lengths", [(0, 4, [4, 2, 0, 1, 3]), (1, 1, [1, 0, 1]), (2, 3, None),
                                               (3, 4, None)])
def test_crf_nll_matches_brute_force(seed, time, lengths):
    rng = np.random.default_rng(seed)
    probs, tags, lengths, weights = random_case(rng, 5 if lengths is None else len(lengths), time, lengths)
    got = keras.ops.convert_to_numpy(crf_nll(probs, tags, padded_mask(lengths, time), *weights))
    assert got.dtype == np.float32 and got.shape == (len(lengths),)
    e = np.log(np.maximum(probs.astype(np.float64), EMISSION_FLOOR))
    for i, ((log_z, _), n) in enumerate(zip(brute_force(probs, lengths, weights), lengths)):
        want = 0.0 if n == 0 else log_z - path_score(e[i], tags[i, :n], *(w.astype(np.float64) for w in weights))
        assert got[i] == pytest.approx(want, abs=1e-4, rel=1e-5), (i, n)


@pytest.mark.parametrize("seed", range(4))
def test_viterbi_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    time = 1 + seed
    probs, _, lengths, weights = random_case(rng, 6, time, [time, 0, 1, *rng.integers(0, time + 1, size=3)])
    got = viterbi(probs, lengths, *weights)
    assert got.dtype == np.int64 and got.shape == (6, time)
    for i, ((_, best), n) in enumerate(zip(brute_force(probs, lengths, weights), lengths)):
        assert tuple(got[i, :n]) == best and not got[i, n:].any(), (i, n)


# -- the layer and the model ----------------------------------------------------------------

def tagger(cell="lstm", *, bidirectional=True, mask_zero=True, seed=0, vocab=30, units=5):
    """ids -> Embedding -> (Bi)LSTM/GRU -> Dense softmax -> CRF, as a CRFTagger."""
    keras.utils.set_random_seed(seed)
    ids = keras.Input((None,), dtype="int64", name="ids")
    x = keras.layers.Embedding(vocab, 6, mask_zero=mask_zero, name="embedding")(ids)
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell](units, return_sequences=True)
    x = (keras.layers.Bidirectional(rnn) if bidirectional else rnn)(x)
    probs = keras.layers.Dense(LABELS, activation="softmax", name="probs")(x)
    return CRFTagger(inputs=ids, outputs=CRF(LABELS)(probs), name=f"crf_{cell}")


def randomize_crf(model, seed):
    rng = np.random.default_rng(seed)
    layer = model.get_layer("crf")
    for w in (layer.transitions, layer.start, layer.end):
        w.assign((rng.normal(size=w.shape) * 1.5).astype(np.float32))


def test_crf_layer_is_identity_with_float32_weights_and_config():
    layer = CRF(4)
    probs = np.random.default_rng(0).random((2, 3, 4)).astype(np.float32)
    mask = np.array([[True, True, False], [True, False, False]])
    assert np.array_equal(keras.ops.convert_to_numpy(layer(probs, mask=mask)), probs)
    assert np.array_equal(keras.ops.convert_to_numpy(layer.compute_mask(probs, mask)), mask)
    assert layer.get_config()["num_labels"] == 4
    assert [w.shape for w in (layer.transitions, layer.start, layer.end)] == [(4, 4), (4,), (4,)]
    assert not any(np.any(keras.ops.convert_to_numpy(w)) for w in layer.weights)
    clone = CRF.from_config(layer.get_config())
    assert clone.num_labels == 4 and clone.name == "crf"

    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        mixed = CRF(4)
        mixed.build((None, None, 4))
        assert {str(w.dtype) for w in mixed.weights} == {"float32"}
        out = mixed(probs.astype(np.float16))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    with pytest.raises(ValueError, match="build it as CRF\\(3\\)"):
        CRF(4).build((None, None, 3))


def test_crf_tagger_needs_its_crf_layer_and_no_compiled_loss():
    ids = keras.Input((None,), dtype="int64", name="ids")
    probs = keras.layers.Dense(LABELS, activation="softmax")(keras.layers.Embedding(10, 3)(ids))
    with pytest.raises(ValueError, match="no CRF layer named 'crf'"):
        CRFTagger(inputs=ids, outputs=probs)
    with pytest.raises(ValueError, match="without loss="):
        tagger("gru", bidirectional=False).compile("adam", loss="sparse_categorical_crossentropy")


def toy_data(rng, n, time=8):
    """Tags alternate 0/1 from a start tag set by the first word; later words are noise.

    Only the transition rule (0 -> 1, 1 -> 0) links a tag to the first word.
    """
    ids = np.zeros((n, time), np.int64)
    tags = np.zeros((n, time), np.int64)
    for i, length in enumerate(rng.integers(2, time + 1, size=n)):
        first = rng.integers(0, 2)
        ids[i, 0] = 2 + first
        ids[i, 1:length] = rng.integers(4, 10, size=length - 1)
        tags[i, :length] = (first + np.arange(length)) % 2
        tags[i, length - 1] = 2 if rng.random() < 0.3 else tags[i, length - 1]
    return ids, tags


def batches(x, y, size):
    """A tf.data pipeline like rnnx's: each batch cut to its longest row, so time is unknown when tracing."""
    import tensorflow as tf

    def gen():
        for i in range(0, len(x), size):
            time = max(int((x[i:i + size] != 0).sum(1).max()), 1)
            yield x[i:i + size, :time], y[i:i + size, :time]

    spec = (tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None, None], tf.int64))
    steps = -(-len(x) // size)
    dataset = tf.data.Dataset.from_generator(gen, output_signature=spec)
    return dataset.apply(tf.data.experimental.assert_cardinality(steps))


def test_crf_tagger_trains_with_fit_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x, y = toy_data(rng, 96)
    vx, vy = toy_data(rng, 24)
    model = tagger("gru", bidirectional=False, vocab=10, units=8)
    model.compile(keras.optimizers.Adam(0.03), metrics=["accuracy"])
    history = model.fit(batches(x, y, 16), validation_data=(vx, vy), epochs=4, shuffle=False,
                        verbose=0)
    assert not model.run_eagerly
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(history.history)
    assert len(history.history["loss"]) == 4 and history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]

    # evaluate (one batch, graph mode) reports the CRF loss per real token and the masked accuracy
    probs = keras.ops.convert_to_numpy(model(vx))
    mask = vx != 0
    want_loss = float(np.sum(keras.ops.convert_to_numpy(crf_nll(probs, vy, mask, *crf_weights(model)))) / mask.sum())
    want_acc = float((probs.argmax(-1) == vy)[mask].mean())
    got = model.evaluate(vx, vy, batch_size=len(vx), verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(want_loss, rel=1e-4)
    assert got["accuracy"] == pytest.approx(want_acc, abs=1e-6)

    path = tmp_path / "crf.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded, CRFTagger)
    for a, b in zip(model.weights, loaded.weights):
        assert np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)), a.path
    assert np.array_equal(keras.ops.convert_to_numpy(loaded(vx)), probs)
    assert np.array_equal(decode(loaded, probs, mask.sum(1)), decode(model, probs, mask.sum(1)))
    compiled = keras.saving.load_model(path)  # compile=True: the CRF loss and metrics come back
    again = compiled.evaluate(vx, vy, batch_size=len(vx), verbose=0, return_dict=True)
    assert again["loss"] == pytest.approx(got["loss"], rel=1e-6) and again["accuracy"] == got["accuracy"]


def test_crf_nll_traces_in_a_tf_function_with_dynamic_shapes():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow backend only")
    import tensorflow as tf

    rng = np.random.default_rng(3)
    weights = tuple(rng.normal(size=s).astype(np.float32) for s in ((LABELS, LABELS), (LABELS,), (LABELS,)))
    spec = [tf.TensorSpec([None, None, LABELS], tf.float32), tf.TensorSpec([None, None], tf.int64),
            tf.TensorSpec([None, None], tf.bool)]

    @tf.function(input_signature=spec)
    def loss(probs, tags, mask):
        total = tf.reduce_sum(crf_nll(probs, tags, mask, *weights))
        return total, tf.gradients(total, probs)[0]

    for batch, time in ((3, 5), (1, 1), (4, 2)):
        probs, tags, lengths, _ = random_case(rng, batch, time)
        mask = padded_mask(lengths, time)
        total, grad = loss(probs, tags, mask)
        eager = np.sum(keras.ops.convert_to_numpy(crf_nll(probs, tags, mask, *weights)))
        assert float(total) == pytest.approx(float(eager), rel=1e-5, abs=1e-5)
        assert np.all(np.isfinite(grad.numpy()))


# -- fused export -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def exported(cell):
    model = tagger(cell, seed=7)
    randomize_crf(model, seed=11)
    assert unsupported_layers(model) == []
    proto = convert(model)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return model, proto, session


def padded_ids(lengths, seed, vocab=30):
    rng = np.random.default_rng(seed)
    time = max(max(lengths), 1)
    ids = rng.integers(1, vocab, size=(len(lengths), time))
    ids[~padded_mask(lengths, time)] = 0
    return ids


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_export_has_probs_and_tags_outputs(cell):
    _, proto, _ = exported(cell)
    assert [o.name for o in proto.graph.output] == ["probs", "tags"]
    assert proto.graph.output[1].type.tensor_type.elem_type == 7  # int64
    assert sum(n.op_type == "Scan" for n in proto.graph.node) == 2


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(lengths=st.lists(st.integers(0, 40), min_size=1, max_size=16), seed=st.integers(0, 2**16))
@example(lengths=[0, 1, 40, 7], seed=1)
@example(lengths=[1], seed=2)
@example(lengths=[0, 0], seed=3)
@example(lengths=[1, 0, 1], seed=4)
def test_fused_tags_equal_numpy_viterbi(cell, lengths, seed):
    model, _, session = exported(cell)
    ids = padded_ids(lengths, seed)
    probs, tags = session.run(None, {INPUT_NAME: ids})
    want_probs = keras.ops.convert_to_numpy(model(ids))
    real = padded_mask(lengths, ids.shape[1])
    assert tags.dtype == np.int64 and tags.shape == ids.shape
    if real.any():
        assert np.abs(probs - want_probs)[real].max() <= 1e-5
    assert np.array_equal(tags, viterbi(probs, lengths, *crf_weights(model)))  # same float32 arithmetic
    assert np.array_equal(tags, decode(model, want_probs, lengths))
    assert not tags[~real].any()


def test_fused_export_without_a_mask_decodes_full_rows():
    model = tagger("gru", bidirectional=False, mask_zero=False, seed=5)
    randomize_crf(model, seed=6)
    proto = convert(model)
    ids = padded_ids([4, 2, 0], seed=9)
    probs, tags = ort.InferenceSession(proto.SerializeToString()).run(None, {INPUT_NAME: ids})
    assert np.array_equal(tags, decode(model, keras.ops.convert_to_numpy(model(ids)), [4, 4, 4]))
