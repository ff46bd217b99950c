"""What a fused export looks like: one recurrent op per layer, no loops, the rnnx
contract, clear errors for what it does not cover.

Numerical parity with Keras is in ``test_fused_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from pipeline.errors import ExportError  # noqa: E402
from pipeline.export import to_onnx  # noqa: E402
from pipeline.export.contract import INPUT_NAME, IR_VERSION, OPSET, OUTPUT_NAME, finalize, read_metadata  # noqa: E402
from pipeline.export.fused import convert, unsupported_layers  # noqa: E402
from pipeline.models import ModelConfig, build_model  # noqa: E402

RECURRENT_OPS = {"RNN", "GRU", "LSTM"}
VARIANTS = [(task, cell, bi) for task in ("tagging", "classification")
            for cell in ("simplernn", "lstm", "gru") for bi in (False, True)]


def rnnx_model(task, cell, bi, layers=2):
    cfg = ModelConfig(task, cell, bidirectional=bi, layers=layers, units=6, embedding_dim=4, vocab_size=40,
                      num_labels=3)
    return build_model(cfg)


def ops(graph, *, recurse=True) -> list[str]:
    """Op types of a graph, including those inside If/Scan/Loop subgraphs when ``recurse``."""
    out = []
    for node in graph.node:
        out.append(node.op_type)
        if recurse:
            for attr in node.attribute:
                if attr.HasField("g"):
                    out += ops(attr.g)
    return out


def run(proto, ids):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {INPUT_NAME: ids})


@pytest.mark.parametrize("task,cell,bi", [v for v in VARIANTS if v[1] != "simplernn"])
def test_lstm_and_gru_exports_have_one_op_per_layer_and_no_loops(task, cell, bi):
    proto = convert(rnnx_model(task, cell, bi, layers=2))
    found = ops(proto.graph)
    assert not {"Loop", "Scan", "If"} & set(found), found
    assert found.count(cell.upper()) == 2, found  # 2 layers; a bidirectional layer is one op


@pytest.mark.parametrize("task,bi", [("tagging", False), ("tagging", True), ("classification", True)])
def test_simplernn_forms(task, bi):
    """``rnn``: one RNN op per layer, no loops. ``auto``: per layer an If choosing that RNN op
    (batch 1) or a Scan over h @ R only (larger batches). ``scan``: one Scan per layer."""
    model = rnnx_model(task, "simplernn", bi, layers=2)
    strict = convert(model, simplernn="rnn")
    assert not {"Loop", "Scan", "If"} & set(ops(strict.graph))
    assert ops(strict.graph).count("RNN") == 2

    auto = convert(model)
    top = ops(auto.graph, recurse=False)
    assert top.count("If") == 2 and "Loop" not in ops(auto.graph)
    for node in (n for n in auto.graph.node if n.op_type == "If"):
        branches = {a.name: ops(a.g) for a in node.attribute}
        assert branches["then_branch"].count("RNN") == 1 and "Scan" not in branches["then_branch"]
        assert branches["else_branch"].count("Scan") == 1 and "RNN" not in branches["else_branch"]

    scan = convert(model, simplernn="scan")
    assert ops(scan.graph, recurse=False).count("Scan") == 2 and "RNN" not in ops(scan.graph)


@pytest.mark.parametrize("task,cell,bi", VARIANTS)
def test_rnnx_builder_models_follow_the_contract(task, cell, bi):
    model = rnnx_model(task, cell, bi, layers=1)
    assert unsupported_layers(model) == []
    proto = finalize(convert(model), {"task": task, "labels": ["a", "b", "c"]})
    assert proto.ir_version == IR_VERSION
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    (inp,) = proto.graph.input
    assert inp.name == INPUT_NAME and inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert [d.dim_param for d in inp.type.tensor_type.shape.dim] == ["batch", "time"]
    (out,) = proto.graph.output
    dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert out.name == OUTPUT_NAME
    assert dims == (["batch", "time", 3] if task == "tagging" else ["batch", 3])
    assert read_metadata(proto) == {"task": task, "labels": ["a", "b", "c"]}
    assert all(t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64, onnx.TensorProto.INT32)
               for t in proto.graph.initializer)

    ids = np.array([[3, 4, 5, 0], [7, 0, 0, 0], [0, 0, 0, 0]], dtype=np.int64)
    (probs,) = run(proto, ids)
    want = model(ids, training=False).numpy()
    if task == "tagging":
        assert np.abs(probs - want)[ids != 0].max() <= 1e-5
        assert not probs[ids == 0].any()
    else:
        assert np.abs(probs - want).max() <= 1e-5
        bias = model.layers[-1].get_weights()[1]
        np.testing.assert_allclose(probs[2], np.exp(bias) / np.exp(bias).sum(), atol=1e-6)  # empty row


def test_uncovered_layer_is_named_with_its_type():
    ids = keras.Input((None,), dtype="int64", name="ids")
    x = keras.layers.Embedding(40, 4)(ids)
    x = keras.layers.SeparableConv1D(5, 3, padding="same", name="conv")(x)
    x = keras.layers.LSTM(6, name="lstm")(x)
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(x))
    assert unsupported_layers(model) == ["conv (SeparableConv1D)"]
    with pytest.raises(ExportError, match=r"conv \(SeparableConv1D\)"):
        convert(model)


def test_lambda_is_named_with_its_type():
    ids = keras.Input((None,), dtype="int64", name="ids")
    x = keras.layers.Embedding(40, 4, mask_zero=True)(ids)
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = keras.layers.GRU(6, name="gru")(x)
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(x))
    assert [p[:40] for p in unsupported_layers(model)] == ["double (Lambda: Lambda runs arbitrary Py"]
    with pytest.raises(ExportError, match=r"double \(Lambda: Lambda runs arbitrary Python.*tf2onnx"):
        convert(model)


def test_unmappable_activation_is_listed_with_layer_and_activation():
    ids = keras.Input((None,), dtype="int64", name="ids")
    x = keras.layers.Embedding(40, 4, mask_zero=True)(ids)
    x = keras.layers.Bidirectional(keras.layers.LSTM(6, activation="gelu", name="lstm"), name="bi")(x)
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(x))
    (problem,) = unsupported_layers(model)
    assert problem.startswith("bi (Bidirectional:") and "gelu" in problem
    with pytest.raises(ExportError, match=r"bi \(Bidirectional.*gelu"):
        convert(model)


def test_stateful_and_custom_activation_and_time_distributed_conv_are_reported():
    ids = keras.Input((None,), dtype="int64", batch_size=2, name="ids")
    x = keras.layers.Embedding(40, 4, mask_zero=True)(ids)
    x = keras.layers.GRU(6, stateful=True, return_sequences=True, name="stateful_gru")(x)
    x = keras.layers.SimpleRNN(6, activation=lambda t: t * 0.5, return_sequences=True, name="odd_rnn")(x)
    x = keras.layers.TimeDistributed(keras.layers.Reshape((3, 2)), name="td")(x)
    model = keras.Model(ids, x)
    problems = unsupported_layers(model)
    assert [p.split(" ")[0] for p in problems] == ["stateful_gru", "odd_rnn", "td"]
    assert "stateful" in problems[0] and "custom activation" in problems[1] and "Reshape" in problems[2]


def test_sequential_models_convert():
    model = keras.Sequential([keras.Input((None,), dtype="int64"), keras.layers.Embedding(40, 4, mask_zero=True),
                              keras.layers.LSTM(6), keras.layers.Dense(3, activation="softmax")])
    ids = np.array([[5, 6, 0], [0, 0, 0]], dtype=np.int64)
    (probs,) = run(convert(model), ids)
    assert np.abs(probs - model(ids).numpy()).max() <= 1e-5


def test_mixed_precision_model_exports_float32_weights():
    """A mixed_float16 model exports float32 weights: the same ONNX graph as its float32 twin."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = rnnx_model("tagging", "gru", True, layers=1)
    finally:
        keras.config.set_dtype_policy(previous)
    plain = rnnx_model("tagging", "gru", True, layers=1)
    plain.set_weights(mixed.get_weights())
    assert mixed.layers[3].compute_dtype == "float16"
    a, b = convert(mixed), convert(plain)
    assert all(t.data_type != onnx.TensorProto.FLOAT16 for t in a.graph.initializer)
    ids = np.array([[3, 4, 5, 0], [7, 0, 0, 0]], dtype=np.int64)
    np.testing.assert_array_equal(run(a, ids)[0], run(b, ids)[0])


def test_initial_state_from_another_branch_converts():
    """A state computed from the model's other input (a seq2seq decoder's shape) starts the GRU.

    Keras passes no padding mask to a layer called with ``initial_state``: the padding
    steps are read as real ones, by Keras and by the export alike."""
    ids = keras.Input((None,), dtype="int64", name="ids")
    context = keras.Input((3,), name="context")
    x = keras.layers.Embedding(40, 4, mask_zero=True)(ids)
    h0 = keras.layers.Dense(6, activation="tanh", name="h0")(context)
    x = keras.layers.GRU(6, name="gru")(x, initial_state=h0)
    model = keras.Model([ids, context], x)
    assert unsupported_layers(model) == []
    feeds = {"ids": np.array([[3, 4, 0], [0, 0, 0]]), "context": np.random.default_rng(0).normal(size=(2, 3))}
    feeds["context"] = feeds["context"].astype(np.float32)
    got = ort.InferenceSession(to_onnx(model).SerializeToString()).run(None, feeds)[0]
    want = np.asarray(model([feeds["ids"], feeds["context"]]))
    assert np.abs(got - want).max() < 1e-5


def test_multi_input_models_need_an_ids_input():
    a = keras.Input((None,), dtype="int64", name="words")
    b = keras.Input((None,), dtype="int64", name="other")
    x = keras.layers.Concatenate()([keras.layers.Embedding(10, 3)(a), keras.layers.Embedding(10, 3)(b)])
    with pytest.raises(ExportError, match="name the keras.Input 'ids'"):
        convert(keras.Model([a, b], keras.layers.LSTM(4)(x)))


def test_extra_integer_inputs_keep_their_names_and_ids_comes_first():
    tags = keras.Input((None,), dtype="int64", name="tags")
    ids = keras.Input((None,), dtype="int64", name="ids")
    x = keras.layers.Concatenate()([keras.layers.Embedding(10, 3, mask_zero=True)(ids),
                                    keras.layers.Embedding(5, 2)(tags)])
    model = keras.Model([tags, ids], keras.layers.LSTM(4)(x))
    proto = convert(model)
    assert [i.name for i in proto.graph.input] == ["ids", "tags"]
    feeds = {"ids": np.array([[3, 4, 0]]), "tags": np.array([[1, 2, 0]])}
    got = ort.InferenceSession(proto.SerializeToString()).run(None, feeds)[0]
    want = model({"ids": feeds["ids"], "tags": feeds["tags"]})
    assert np.abs(got - np.asarray(want)).max() < 1e-5


def test_output_names_stay_unique_when_layer_names_look_like_suffixes():
    """Two return_state LSTMs named lstm and lstm_1: six outputs, six distinct names, no collision."""
    x = keras.Input((None, 3), name="x")
    a = keras.layers.LSTM(2, return_state=True, name="lstm")(x)
    b = keras.layers.LSTM(2, return_state=True, name="lstm_1")(x)
    proto = to_onnx(keras.Model(x, [*a, *b]))
    names = [o.name for o in proto.graph.output]
    assert len(set(names)) == 6 and names[0] == "lstm" and names[3] == "lstm_1"
