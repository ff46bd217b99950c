"""StatePooling (``pipeline/models/pooling.py``): classifiers pooling their states.

* max and mean match numpy over the real steps only; padding values never leak in;
  a text without tokens gives zeros;
* built classifiers (LSTM, BiGRU, SimpleRNN, with and without character features)
  export through the fused converter and match Keras within 1e-5 on random batches
  with empty rows, single tokens and long rows; the graph keeps no transpose for mean;
* the config refuses pooling for taggers and unknown modes; the layer round-trips
  through save and ``load_model``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from pipeline.errors import ConfigError  # noqa: E402
from pipeline.export.fused import convert, unsupported_layers  # noqa: E402
from pipeline.models import build_model, load_model  # noqa: E402
from pipeline.models.config import ModelConfig  # noqa: E402
from pipeline.models.pooling import StatePooling  # noqa: E402

VOCAB, LABELS = 40, 3


def numpy_pool(x, mask, mode):
    out = np.zeros((x.shape[0], x.shape[2]), np.float32)
    for row in range(x.shape[0]):
        real = x[row][mask[row]]
        if len(real):
            out[row] = real.max(0) if mode == "max" else real.mean(0)
    return out


@pytest.mark.parametrize("mode", ["max", "mean"])
def test_pools_the_real_steps_only(mode):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (5, 7, 4)).astype(np.float32)
    mask = np.arange(7)[None, :] < np.array([7, 3, 1, 0, 5])[:, None]
    x[~mask] = 50.0  # padding must not win a max or shift a mean
    got = np.asarray(StatePooling(mode)(x, mask=mask))
    np.testing.assert_allclose(got, numpy_pool(x, mask, mode), atol=1e-6)
    assert np.all(got[3] == 0)


def test_bad_modes_and_tagger_pooling_are_refused():
    with pytest.raises(ValueError, match="'max' or 'mean'"):
        StatePooling("sum")
    with pytest.raises(ConfigError, match="pooling 'sum' is not known"):
        ModelConfig("classification", pooling="sum")
    with pytest.raises(ConfigError, match="pooling is for classifiers"):
        ModelConfig("tagging", pooling="max")


def classifier(cell: str, bidirectional: bool, pooling: str, chars: bool = False):
    keras.utils.set_random_seed(1)
    cfg = ModelConfig("classification", cell, bidirectional=bidirectional, units=5, embedding_dim=4,
                      vocab_size=VOCAB, num_labels=LABELS, pooling=pooling, chars=chars, num_chars=20,
                      char_dim=3, char_filters=4)
    return build_model(cfg)


CASES = {
    "lstm-max": ("lstm", False, "max"),
    "bigru-mean": ("gru", True, "mean"),
    "bisimplernn-max": ("simplernn", True, "max"),
    "bilstm-max-chars": ("lstm", True, "max", True),
}


@functools.lru_cache(maxsize=None)
def exported(case: str):
    model = classifier(*CASES[case])
    rng = np.random.default_rng(len(case))
    for w in model.weights:  # non-trivial weights: biases too
        w.assign(rng.normal(0, 0.6, tuple(w.shape)).astype("float32"))
    assert unsupported_layers(model) == []
    proto = convert(model)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return model, session, proto


def batch(lengths, seed, chars: bool):
    rng = np.random.default_rng(seed)
    time = max(1, max(lengths))
    ids = np.zeros((len(lengths), time), np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, VOCAB, n)
    feeds = {"ids": ids}
    if chars:
        feeds["chars"] = np.where(ids[..., None] > 0, rng.integers(1, 20, (*ids.shape, 3)), 0)
    return feeds


def assert_parity(case, lengths, seed):
    model, session, _ = exported(case)
    feeds = batch(lengths, seed, chars=len(CASES[case]) > 3)
    want = np.asarray(model(feeds if len(feeds) > 1 else feeds["ids"], training=False))
    got = session.run(None, feeds)[0]
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) <= 1e-5, (case, lengths)


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(lengths=st.lists(st.one_of(st.sampled_from([0, 1]), st.integers(0, 40)), min_size=1, max_size=12),
       seed=st.integers(0, 2 ** 31))
def test_fused_export_matches_keras(case, lengths, seed):
    assert_parity(case, lengths, seed)


@pytest.mark.parametrize("case", sorted(CASES))
def test_edge_batches(case):
    for lengths in ([0], [0, 0], [1], [1, 0, 60]):
        assert_parity(case, lengths, seed=len(lengths))


def test_graph_pools_with_onnx_reductions():
    ops = [n.op_type for n in exported("bigru-mean")[2].graph.node]
    assert "ReduceSum" in ops and "GlobalMaxPool" not in ops
    ops = [n.op_type for n in exported("lstm-max")[2].graph.node]
    assert "GlobalMaxPool" in ops


def test_round_trips_through_save(tmp_path):
    model = classifier("gru", True, "mean")
    path = tmp_path / "pooled.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_layer("mean_pooling").mode == "mean"
    ids = batch([3, 0, 5], seed=0, chars=False)["ids"]
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)
