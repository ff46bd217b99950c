"""Streaming exports: chunks of any split give the whole-sequence answers; state in, state out."""

from __future__ import annotations

import functools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipeline.errors import ExportError, RnnxError  # noqa: E402
from pipeline.export import to_onnx  # noqa: E402
from pipeline.export.fused import unsupported_layers  # noqa: E402
from pipeline.runtime.stream import Stream, TagStream  # noqa: E402

TIME = 12


def _session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=None)
def frames_model():
    """Float frames -> Masking -> LSTM -> GRU -> SimpleRNN -> Dense softmax: a frame tagger."""
    keras.utils.set_random_seed(4)
    x = keras.Input((None, 3), name="frames")
    h = keras.layers.LSTM(6, return_sequences=True, name="lstm")(keras.layers.Masking()(x))
    h = keras.layers.GRU(5, return_sequences=True, name="gru")(h)
    h = keras.layers.SimpleRNN(4, return_sequences=True, name="rnn")(h)
    model = keras.Model(x, keras.layers.Dense(3, activation="softmax", name="probs")(h))
    return model, _session(to_onnx(model, streaming=True))


@functools.lru_cache(maxsize=None)
def ids_classifier():
    """Token ids -> Embedding(mask_zero) -> GRU (last state) -> Dense: a running classifier when streamed."""
    keras.utils.set_random_seed(5)
    ids = keras.Input((None,), dtype="int64", name="ids")
    h = keras.layers.GRU(6, name="gru")(keras.layers.Embedding(30, 4, mask_zero=True)(ids))
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax", name="label")(h))
    return model, _session(to_onnx(model, streaming=True))


def frames(seed: int, batch: int = 2, pad_from: int | None = None):
    x = np.random.default_rng(seed).normal(size=(batch, TIME, 3)).astype(np.float32)
    if pad_from is not None:
        x[-1, pad_from:] = 0.0  # the last stream ends early: padding (masked) afterwards
    return x


def pushed(session, x, cuts, batch):
    stream = Stream("frames", batch=batch, session=session)
    parts, start = [], 0
    for end in list(cuts) + [x.shape[1]]:
        if end > start:
            parts.append(stream.push(x[:, start:end])[session.get_outputs()[0].name])
            start = end
    return np.concatenate(parts, axis=1), stream


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, TIME - 1), max_size=TIME - 1, unique=True).map(sorted),
       seed=st.integers(0, 3))
def test_any_split_into_chunks_gives_the_whole_sequence_outputs(cuts, seed):
    model, session = frames_model()
    x = frames(seed, batch=3, pad_from=5)
    x[1, 2:4] = 0.0  # a hole in the middle of a stream
    got, _ = pushed(session, x, cuts, batch=3)
    assert np.abs(got - np.asarray(model(x))).max() <= 1e-5


def test_every_chunk_size_from_one_to_the_whole_sequence():
    model, session = frames_model()
    x = frames(7)
    want = np.asarray(model(x))
    for size in range(1, TIME + 1):
        got, stream = pushed(session, x, range(size, TIME, size), batch=2)
        assert np.abs(got - want).max() <= 1e-5, size
        assert stream.steps == TIME


def test_a_finished_stream_keeps_its_state_while_the_others_go_on():
    _, session = frames_model()
    x = frames(1, batch=2, pad_from=4)
    stream = Stream("frames", batch=2, session=session)
    stream.push(x[:, :4])
    after_real = {k: v[1].copy() for k, v in stream.state.items()}
    stream.push(x[:, 4:9])
    stream.push(x[:, 9:])
    for name, value in stream.state.items():
        np.testing.assert_array_equal(value[1], after_real[name])
        assert not np.allclose(value[0], 0.0)


def test_reset_in_the_middle_starts_over():
    model, session = frames_model()
    x = frames(2)
    stream = Stream("frames", batch=2, session=session)
    stream.push(x[:, :5])
    stream.reset()
    got = np.concatenate([stream.push(x[:, :7])["probs"], stream.push(x[:, 7:])["probs"]], axis=1)
    assert np.abs(got - np.asarray(model(x))).max() <= 1e-5
    stream.push(x[:, :3])
    stream.reset(rows=[0])
    assert not stream.state["state_in.lstm.h"][0].any() and stream.state["state_in.lstm.h"][1].any()


def test_stream_model_inputs_and_outputs_are_named_for_the_layers():
    _, session = frames_model()
    ins = {i.name: i.shape for i in session.get_inputs()}
    outs = [o.name for o in session.get_outputs()]
    assert ins["state_in.lstm.h"][1] == 6 and "state_in.lstm.c" in ins and "state_in.gru.h" in ins
    assert outs[0] == "probs" and {"state_out.lstm.c", "state_out.rnn.h"} <= set(outs)


def test_a_classifier_streams_its_running_decision_at_every_step():
    model, session = ids_classifier()
    ids = np.random.default_rng(0).integers(1, 30, size=(2, 9))
    ids[1, 6:] = 0
    stream = Stream("ids", batch=2, session=session)
    got = np.concatenate([stream.push(ids[:, :4])["label"], stream.push(ids[:, 4:])["label"]], axis=1)
    want = np.stack([np.asarray(model(ids[:, :t + 1])) for t in range(9)], axis=1)
    assert got.shape == (2, 9, 2) and np.abs(got - want).max() <= 1e-5


def test_state_out_equals_a_keras_stateful_model_after_the_same_chunks():
    keras.utils.set_random_seed(9)
    x_in = keras.Input((None, 3), batch_size=2, name="x")
    layer = keras.layers.LSTM(4, stateful=True, return_sequences=True, name="st")
    model = keras.Model(x_in, layer(x_in))
    assert any("stateful" in p for p in unsupported_layers(model, io="keras"))
    with pytest.raises(ExportError, match="stateful=True carries state between calls"):
        to_onnx(model)
    stream = Stream("st", batch=2, session=_session(to_onnx(model, streaming=True)))
    x = frames(3)
    layer.reset_state()
    for start, end in ((0, 3), (3, 4), (4, TIME)):
        want = np.asarray(model(x[:, start:end]))
        np.testing.assert_allclose(stream.push(x[:, start:end])["st"], want, atol=1e-5)
    h, c = (np.asarray(v) for v in layer.states)
    np.testing.assert_allclose(stream.state["state_in.st.h"], h, atol=1e-5)
    np.testing.assert_allclose(stream.state["state_in.st.c"], c, atol=1e-5)


@pytest.mark.parametrize("build,reason", [
    (lambda x: keras.layers.Bidirectional(keras.layers.GRU(3))(x), "Bidirectional reads the whole sequence"),
    (lambda x: keras.layers.LSTM(3, go_backwards=True)(x), "go_backwards reads the sequence from its end"),
    (lambda x: keras.layers.LSTM(3)(keras.layers.Conv1D(2, 3, padding="same")(x)), "reads other time steps"),
    (lambda x: keras.layers.GlobalAveragePooling1D()(keras.layers.GRU(3, return_sequences=True)(x)),
     "reads other time steps"),
], ids=["bidirectional", "go-backwards", "conv1d", "global-pooling"])
def test_layers_that_read_the_future_are_refused_before_anything_is_written(build, reason):
    x = keras.Input((None, 4), name="x")
    model = keras.Model(x, build(x))
    problems = unsupported_layers(model, io="keras", streaming=True)
    assert problems and reason in problems[0]
    with pytest.raises(ExportError, match=reason):
        to_onnx(model, streaming=True)
    to_onnx(model)  # the whole-sequence export is fine


def test_stream_needs_a_stream_model(tmp_path):
    model, _ = ids_classifier()
    import onnx

    onnx.save(to_onnx(model), tmp_path / "model.onnx")
    with pytest.raises(RnnxError, match="not a stream model"):
        Stream(tmp_path / "model.onnx")


@pytest.mark.slow
def test_rnnx_tagger_streams_token_by_token_with_the_tags_of_the_whole_sentence(trained_export, brown_files):
    from pipeline.data.readers import read_file
    from pipeline.runtime.session import load

    folder = trained_export("stream-tagger")
    whole = load(folder)
    stream = TagStream(folder)
    sentences = read_file(brown_files["test"]).tokens[:60]
    want = whole.predict_tokens(sentences)
    for tokens, tags in zip(sentences, want):
        stream.reset()
        got = [stream.push([t])[0][1] for t in tokens]
        assert got == tags
    with pytest.raises(RnnxError, match="list of tokens"):
        stream.push("They are")


@pytest.mark.slow
def test_node_streams_the_same_tags_as_python_token_by_token(trained_export, brown_files):
    from pipeline.check.node import node_available
    from pipeline.check.node_stream import check_node_stream
    from pipeline.data.readers import read_file

    if not node_available():
        pytest.skip("node and npm are needed (apt-get install nodejs npm)")
    folder = trained_export("stream-tagger")
    sentences = [t for t in read_file(brown_files["test"]).tokens if t][:100]
    report = check_node_stream(folder, sentences)
    assert report["passed"] and report["tag_mismatches"] == 0 and report["tokens"] > 1000
    assert report["node_per_token_ms"] > 0


@pytest.mark.parametrize("mode", ["max", "mean"])
def test_a_pooled_classifier_streams_with_its_running_statistics_as_state(mode):
    from pipeline.models.pooling import StatePooling

    keras.utils.set_random_seed(6)
    ids = keras.Input((None,), dtype="int64", name="ids")
    h = keras.layers.GRU(5, return_sequences=True)(keras.layers.Embedding(30, 4, mask_zero=True)(ids))
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax", name="p")(StatePooling(mode, name="pool")(h)))
    session = _session(to_onnx(model, streaming=True))
    x = np.random.default_rng(0).integers(1, 30, size=(3, 9))
    x[1, 5:], x[2, :3], x[2, 6] = 0, 0, 0  # a stream that ends, left padding, a hole
    stream = Stream("pooled", batch=3, session=session)
    got = np.concatenate([stream.push(x[:, a:b])["p"] for a, b in ((0, 1), (1, 4), (4, 9))], axis=1)
    want = np.stack([np.asarray(model(x[:, :t + 1])) for t in range(9)], axis=1)
    assert np.abs(got - want).max() <= 1e-5
    assert {"state_in.pool.count", f"state_in.pool.{'sum' if mode == 'mean' else 'max'}"} <= set(stream.state)
    assert stream.state["state_in.pool.count"][:, 0].tolist() == [9.0, 5.0, 5.0]


@pytest.mark.slow
def test_streaming_export_of_a_bidirectional_run_is_refused_before_writing(trained_export, tmp_path):
    import json

    from pipeline.errors import ConfigError
    from pipeline.export.exporter import export_run

    from pipeline.check.keras_side import find_run

    folder = trained_export("tagger")
    source = find_run(json.loads((folder / "export.json").read_text()), folder=folder).files.root
    with pytest.raises(ConfigError, match="--streaming: .* cannot stream: .*Bidirectional reads the whole sequence"):
        export_run(source, out_root=tmp_path, name="bi", streaming=True)
    assert not (tmp_path / "bi").exists() and not (tmp_path / "bi.partial").exists()
