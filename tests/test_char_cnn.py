"""CharCNN (``pipeline/models/chars.py``): what it computes, and its fused ONNX export.

* a token's vector depends only on its own characters (not on trailing character
  padding, padding tokens or other tokens); tokens without characters give 0;
* it matches a plain numpy implementation of Ma & Hovy's character CNN;
* the fused export of word + character models (ids and chars inputs) matches Keras
  within 1e-5 on random batches, for a BiLSTM tagger, an LSTM classifier and a
  BiGRU tagger (character convolution width 5), and for the BiLSTM tagger with a
  character cache (known spellings looked up, the rest convolved);
* it trains with ``model.fit``, round-trips through ``model.save``/``load_model``,
  and runs under a mixed-precision policy.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from pipeline.export.fused import convert, unsupported_layers  # noqa: E402
from pipeline.models.chars import CharCNN  # noqa: E402

VOCAB, NUM_CHARS, EMB, CHAR_DIM, FILTERS, UNITS, LABELS = 30, 40, 6, 5, 7, 5, 4
TOL = 1e-5


# -- data --------------------------------------------------------------------------

def char_batch(lengths, width: int, seed: int, *, time: int | None = None):
    """Right-padded ``(ids, chars)``: ``lengths`` tokens per row, up to ``width`` characters per token.

    Real tokens have 0..width characters (0 now and then), about a fifth of them
    unknown (id 1); everything after a row's tokens, or a token's characters, is 0.
    """
    rng = np.random.default_rng(seed)
    time = max(1, max(lengths, default=0)) if time is None else time
    ids = np.zeros((len(lengths), time), np.int64)
    chars = np.zeros((len(lengths), time, width), np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, VOCAB, n)
        for t in range(n):
            k = 0 if rng.random() < 0.1 else int(rng.integers(1, width + 1))
            chars[row, t, :k] = np.where(rng.random(k) < 0.2, 1, rng.integers(2, NUM_CHARS, k))
    return ids, chars


@st.composite
def char_batches(draw):
    """Batch 1..16, lengths 0..30 (often 0 or 1), character widths 1..20."""
    batch = draw(st.integers(1, 16))
    lengths = draw(st.lists(st.one_of(st.sampled_from([0, 1]), st.integers(0, 30)), min_size=batch,
                            max_size=batch))
    return char_batch(lengths, draw(st.integers(1, 20)), draw(st.integers(0, 2 ** 32 - 1)))


def _randomize(model_or_layer, seed: int) -> None:
    """Random weights with non-zero biases; kernels scaled by fan-in."""
    rng = np.random.default_rng(seed)
    for w in model_or_layer.weights:
        shape = tuple(w.shape)
        scale = 0.9 / np.sqrt(shape[-2]) if len(shape) >= 2 else 0.5
        w.assign(rng.normal(0.0, scale, shape).astype("float32"))


def char_layer(width: int = 3, seed: int = 0) -> CharCNN:
    layer = CharCNN(NUM_CHARS, char_dim=CHAR_DIM, filters=FILTERS, width=width)
    layer.build((None, None, None))
    _randomize(layer, seed)
    return layer


def reference(layer: CharCNN, chars: np.ndarray) -> np.ndarray:
    """Ma & Hovy's character CNN, one token at a time, on the token's own characters only."""
    table, kernel, bias = (np.asarray(w, np.float64) for w in (layer.embeddings, layer.kernel, layer.bias))
    half = (layer.width - 1) // 2
    out = np.zeros(chars.shape[:2] + (layer.filters,))
    for b, t in np.ndindex(*chars.shape[:2]):
        own = chars[b, t][chars[b, t] != 0]
        if own.size == 0:
            continue
        x = np.pad(table[own], ((half, half), (0, 0)))                       # zero padding around the word
        y = [np.tanh(sum(x[i + k] @ kernel[k] for k in range(layer.width)) + bias) for i in range(own.size)]
        out[b, t] = np.max(y, axis=0)
    return out


# -- the layer -----------------------------------------------------------------------

@pytest.mark.parametrize("width", [1, 3, 5])
def test_tokens_do_not_depend_on_padding_or_on_each_other(width):
    layer = char_layer(width, seed=width)
    _, chars = char_batch([5, 0, 3, 8], 6, seed=width, time=9)
    out = np.asarray(layer(chars))
    assert out.shape == (4, 9, FILTERS)

    wider = np.pad(chars, ((0, 0), (0, 0), (0, 5)))                          # C + 5 trailing characters
    np.testing.assert_allclose(np.asarray(layer(wider)), out, atol=1e-6)
    longer = np.asarray(layer(np.pad(chars, ((0, 0), (0, 3), (0, 0)))))       # 3 more padding tokens
    np.testing.assert_allclose(longer[:, :9], out, atol=1e-6)
    assert not np.any(longer[:, 9:])
    alone = np.asarray(layer(chars.reshape(-1, 1, chars.shape[-1]))).reshape(out.shape)  # one token per row
    np.testing.assert_allclose(alone, out, atol=1e-6)

    empty = ~(chars != 0).any(-1)
    assert empty.any() and not np.any(out[empty]), "tokens without characters must give exactly 0"
    assert np.all(np.abs(out[~empty]) > 0)


@pytest.mark.parametrize("width", [1, 3, 5])
def test_matches_a_numpy_character_cnn(width):
    layer = char_layer(width, seed=10 + width)
    _, chars = char_batch([7, 2, 0, 11], 9, seed=width)
    np.testing.assert_allclose(np.asarray(layer(chars)), reference(layer, chars), atol=1e-5)


@pytest.mark.parametrize("width", [0, 2, 4])
def test_width_must_be_odd(width):
    with pytest.raises(ValueError, match="odd|at least 1"):
        CharCNN(NUM_CHARS, width=width)
    if width:
        with pytest.raises(ValueError, match="'same' padding must be symmetric"):
            CharCNN(NUM_CHARS, width=width)


def test_config_shape_and_mask():
    layer = CharCNN(NUM_CHARS, char_dim=4, filters=9, width=5, name="chars_x")
    again = CharCNN.from_config(layer.get_config())
    assert (again.num_chars, again.char_dim, again.filters, again.width, again.name) == (NUM_CHARS, 4, 9, 5,
                                                                                      "chars_x")
    assert layer.compute_output_shape((None, None, None)) == (None, None, 9)
    chars = np.array([[[3, 4, 0], [5, 0, 0], [0, 0, 0]]])
    assert np.asarray(layer.compute_mask(chars)).tolist() == [[True, True, False]]


def test_padding_mask_survives_concatenation_with_the_word_embedding():
    """Concatenate ORs its inputs' masks: the character features must not switch the word mask off."""
    model = word_char_model("classification", "LSTM", False)
    ids = np.array([[3, 4, 0, 0]])
    chars = np.array([[[5, 6], [7, 0], [0, 0], [0, 0]]])
    # with the mask lost, the LSTM would read the two padding steps and answer differently
    alone = np.asarray(model({"ids": ids[:, :2], "chars": chars[:, :2]}))
    padded = np.asarray(model({"ids": ids, "chars": chars}))
    np.testing.assert_allclose(alone, padded, atol=1e-6)


def test_mixed_precision_policy():
    _, chars = char_batch([4, 6], 7, seed=3)
    exact = char_layer(seed=5)
    want = np.asarray(exact(chars))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = CharCNN(NUM_CHARS, char_dim=CHAR_DIM, filters=FILTERS)
        layer.build((None, None, None))
        for w, v in zip(layer.weights, exact.weights):
            w.assign(v)
        got = layer(chars)
    finally:
        keras.config.set_dtype_policy(previous)
    assert layer.embeddings.dtype == "float32" and keras.backend.standardize_dtype(got.dtype) == "float16"
    np.testing.assert_allclose(np.asarray(got, np.float32), want, atol=5e-3)


# -- word + character models ------------------------------------------------------

def word_char_model(task: str = "tagging", cell: str = "LSTM", bi: bool = True, width: int = 3):
    ids = keras.Input((None,), dtype="int64", name="ids")
    chars = keras.Input((None, None), dtype="int64", name="chars")
    words = keras.layers.Embedding(VOCAB, EMB, mask_zero=True)(ids)
    x = keras.layers.Concatenate()([words, CharCNN(NUM_CHARS, char_dim=CHAR_DIM, filters=FILTERS, width=width)(chars)])
    rnn = getattr(keras.layers, cell)(UNITS, return_sequences=task == "tagging")
    x = (keras.layers.Bidirectional(rnn) if bi else rnn)(x)
    return keras.Model([ids, chars], keras.layers.Dense(LABELS, activation="softmax")(x), name=f"{task}_{cell}")


CASES = {
    "bilstm-tagger": functools.partial(word_char_model, "tagging", "LSTM", True),
    "bilstm-tagger-cached": functools.partial(word_char_model, "tagging", "LSTM", True),
    "lstm-classifier": functools.partial(word_char_model, "classification", "LSTM", False),
    "bigru-tagger-width5": functools.partial(word_char_model, "tagging", "GRU", True, width=5),
}


#: every 1- and 2-character spelling (unknown character 1 included): the random batches hit the cache
#: often, and about a tenth of these collide in the hash table and are computed by the CNN instead
SPELLINGS = [(a,) for a in range(1, NUM_CHARS)] + [(a, b) for a in range(1, NUM_CHARS) for b in range(1, NUM_CHARS)]


@functools.lru_cache(maxsize=None)
def exported(case: str):
    """(Keras tf.function, ORT session, ONNX graph input names) for a case, built once."""
    keras.utils.set_random_seed(sorted(CASES).index(case))
    model = CASES[case]()
    _randomize(model, seed=len(case))
    assert unsupported_layers(model) == []
    proto = convert(model, char_spellings=SPELLINGS if case.endswith("-cached") else ())
    fn = tf.function(lambda ids, chars: model({"ids": ids, "chars": chars}, training=False),
                     input_signature=[tf.TensorSpec([None, None], tf.int64),
                                      tf.TensorSpec([None, None, None], tf.int64)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return fn, session, [i.name for i in proto.graph.input]


def assert_parity(case: str, ids: np.ndarray, chars: np.ndarray) -> None:
    fn, session, names = exported(case)
    assert names == ["ids", "chars"]
    want = fn(tf.constant(ids), tf.constant(chars)).numpy()
    got = session.run(None, {"ids": ids, "chars": chars})[0]
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.ndim == 3:  # tagger: compare the real tokens
        real = ids != 0
        got, want = got[real], want[real]
    diff = float(np.abs(got - want).max()) if got.size else 0.0
    assert diff <= TOL, f"{case}: max abs diff {diff:.2e} > {TOL} (ids {ids.shape}, chars {chars.shape})"


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=char_batches())
def test_fused_export_matches_keras(case, batch):
    assert_parity(case, *batch)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_export_edge_batches(case):
    for lengths, width in (([0], 1), ([0, 0, 0], 4), ([1], 1), ([1, 0, 30], 20)):
        assert_parity(case, *char_batch(lengths, width, seed=len(lengths) + width))


def test_character_cache_holds_frequent_spellings_and_drops_collisions():
    from pipeline.export.fused.char_cache import CharCache

    layer = CharCNN(NUM_CHARS, char_dim=CHAR_DIM, filters=FILTERS)
    layer.build((None, None, None))
    cache = CharCache.build(layer, [(5, 6), (5, 6), (), (0, 3), tuple(range(2, 80))] + SPELLINGS)
    stored = {tuple(int(c) for c in row[:n]) for row, n in zip(cache.chars[1:], cache.lengths[1:])}
    assert (5, 6) in stored and cache.slots[0] == 0 and (cache.lengths[1:] > 0).all()
    assert len(stored) == cache.size < len(SPELLINGS) + 1  # duplicates, empty, padded, over-long and collided out
    assert len(cache.slots) >= 4 * len(SPELLINGS) and np.count_nonzero(cache.slots) == cache.size
    want = layer(cache.chars[:, None, :].astype(np.int64)).numpy()[:, 0]
    np.testing.assert_array_equal(cache.table[1:], want[1:])
    assert not cache.table[0].any()


def test_fused_graph_uses_conv_and_keeps_input_names():
    _, session, names = exported("bilstm-tagger")
    proto = convert(CASES["bilstm-tagger"]())
    found = [n.op_type for n in proto.graph.node]
    assert found.count("Conv") == 1 and "GlobalMaxPool" in found and {"Loop", "Scan"}.isdisjoint(found)
    # padding characters are excluded through the weights: the gathered vectors go straight to the
    # convolution and its [tokens, filters, chars] output straight to the max, no mask op between
    consumers = {n.input[0]: n.op_type for n in proto.graph.node if n.input}
    tanh = next(n.output[0] for n in proto.graph.node if n.op_type == "Tanh")
    gathered = next(n.output[0] for n in proto.graph.node if n.op_type == "Gather" and "char" in n.input[0])
    assert consumers[tanh] == "GlobalMaxPool" and consumers[gathered] == "Transpose"
    assert [i.name for i in proto.graph.input] == names == ["ids", "chars"]
    assert [d.dim_param for d in proto.graph.input[1].type.tensor_type.shape.dim][:2] == ["batch", "time"]


# -- training and saving ----------------------------------------------------------

def test_trains_with_fit_and_round_trips_through_save(tmp_path):
    keras.utils.set_random_seed(7)
    model = word_char_model("tagging", "LSTM", False)
    ids, chars = char_batch([5, 3, 8, 1, 0, 6, 7, 2], 10, seed=9)
    labels = np.random.default_rng(1).integers(0, LABELS, ids.shape)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = keras.ops.convert_to_numpy(model.get_layer("char_cnn").kernel).copy()
    history = model.fit({"ids": ids, "chars": chars}, labels, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(keras.ops.convert_to_numpy(model.get_layer("char_cnn").kernel), before)

    path = tmp_path / "chars.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded.get_layer("char_cnn"), CharCNN)
    inputs = {"ids": ids, "chars": chars}
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-6)
