"""The fused exporter: Keras layers -> ONNX directly, one recurrent op per RNN layer.

No TensorFlow tracing: the converter reads each layer's weights and settings and
writes the ONNX graph with ``onnx.helper``. Masks become ``sequence_lens`` of
ONNX ``RNN``/``GRU``/``LSTM`` ops (inputs are right-padded); padded positions of
sequence outputs are zero. It therefore works for models trained on a GPU, with
mixed precision (weights are written as float32), and under any Keras backend.

Public API:

* :func:`convert` -- ``keras.Model -> onnx.ModelProto`` (finalized: contract names,
  opset, IR version, metadata with ``engine="fused"``);
* :func:`unsupported_layers` -- what keeps a model from converting (empty list:
  everything is covered).

Each Keras layer type has one converter function, registered with
``@converts(...)`` in the module for its family (``embedding.py``, ``recurrent.py``
with ``simplernn.py``/``lstm.py``/``gru.py``, ``bidirectional.py``, ``dense.py``,
``dropout.py``, ``merge.py``, ``keras_ops.py``).

Example:

>>> import keras, numpy as np, onnxruntime as ort
>>> ids = keras.Input((None,), dtype="int64", name="ids")
>>> x = keras.layers.Embedding(50, 8, mask_zero=True)(ids)
>>> x = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))(x)
>>> model = keras.Model(ids, keras.layers.Dense(3, activation="softmax")(x))
>>> unsupported_layers(model)
[]
>>> proto = convert(model, metadata={"task": "tagging"})
>>> sorted({n.op_type for n in proto.graph.node} & {"GRU", "Loop", "Scan"})
['GRU']
>>> batch = np.array([[5, 6, 7], [8, 0, 0]])
>>> probs = ort.InferenceSession(proto.SerializeToString()).run(None, {"ids": batch})[0]
>>> bool(np.abs(probs - model(batch)).max(axis=-1)[0].max() < 1e-5), float(probs[1, 1:].max())
(True, 0.0)
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import ExportError
from pipeline.export.contract import INPUT_NAME, OPSET, OUTPUT_NAME, finalize
from pipeline.export.fused.context import SIMPLERNN_FORMS, Context, Options

__all__ = ["convert", "unsupported_layers", "Options", "SIMPLERNN_FORMS"]

MIN_OPSET = 14  # ONNX RNN/GRU/LSTM v14, axes as inputs (Squeeze, ReduceSum, ...)


def unsupported_layers(model) -> list[str]:
    """``"name (Type)"`` for each layer or operation of ``model`` the fused exporter cannot convert.

    A covered type with settings that cannot be exported is listed as
    ``"name (Type: reason)"``, e.g. ``"lstm (LSTM: activation: activation 'gelu' has
    no equivalent in an ONNX recurrent op)"``.
    """
    from pipeline.export.fused.walk import functional_of, node_problems

    try:
        functional = functional_of(model)
    except ExportError as exc:
        return [f"{getattr(model, 'name', '?')} ({type(model).__name__}: {exc})"]
    return node_problems(functional)


def convert(model, *, opset: int = OPSET, metadata: dict | None = None, simplernn: str = "auto",
            simplernn_rnn_max_batch: int = 1):
    """Convert a Keras functional (or Sequential) model to a finalized ``onnx.ModelProto``.

    The model must have one integer input of shape ``[batch, time]`` (token ids,
    right-padded with 0). Outputs are named ``probs`` (then ``probs_1``, ...).
    ``metadata`` goes to :func:`pipeline.export.contract.finalize` with
    ``engine="fused"`` added. ``simplernn``/``simplernn_rnn_max_batch``: see
    :class:`~pipeline.export.fused.context.Options`.

    Raises :class:`~pipeline.errors.ExportError` naming the first layer (and its
    type) that cannot be converted.
    """
    from pipeline.export.fused.graph import GraphBuilder
    from pipeline.export.fused.walk import convert_graph, functional_of

    if opset < MIN_OPSET:
        raise ExportError(f"the fused exporter writes opset {MIN_OPSET} or newer; got opset={opset}")
    functional = functional_of(model)
    g = GraphBuilder()
    ctx = Context(g, Options(simplernn=simplernn, simplernn_rnn_max_batch=simplernn_rnn_max_batch))
    values, graph_inputs = _inputs(ctx, functional, model.name)
    out_names = [g.reserve(OUTPUT_NAME if i == 0 else f"{OUTPUT_NAME}_{i}") for i in range(len(functional.outputs))]
    convert_graph(ctx, functional, values)
    finals = [_output_value(ctx, kt, values) for kt in functional.outputs]
    outputs = []
    for kt, v, name in zip(functional.outputs, finals, out_names):
        shared = sum(f.name == v.name for f in finals) > 1
        if shared or not g.rename_output(v.name, name):
            g.op_into("Identity", [v.name], [name])
        dims = ["batch"] + (["time"] if v.rank >= 3 else []) + list(kt.shape[2 if v.rank >= 3 else 1:])
        dims = [d if d is not None else f"dim{i}" for i, d in enumerate(dims)]
        outputs.append(GraphBuilder.output(name, np.float32, dims))
    for extra in ctx.extra_outputs:
        g.op_into("Identity", [ctx.keras_layout(extra.value).name], [g.reserve(extra.name)])
        outputs.append(GraphBuilder.output(extra.name, extra.value.dtype, extra.dims))
    proto = g.model(graph_inputs, outputs, opset=opset, name=model.name)
    return finalize(proto, {**(metadata or {}), "engine": "fused"})


def _inputs(ctx: Context, functional, model_name: str):
    """Graph inputs for the model's inputs: ``ids`` first, then extra integer inputs (``chars``).

    Every input keeps its Keras name; ``ids`` must be ``[batch, time]``, extra inputs
    are integer tensors of rank >= 2 (``chars``: ``[batch, time, chars]``).
    """
    from pipeline.export.fused.graph import GraphBuilder
    from pipeline.export.fused.values import Value

    names = [kt.name for kt in functional.inputs]
    if INPUT_NAME not in names and len(names) == 1:
        names = [INPUT_NAME]  # a single unnamed input is the ids
    if INPUT_NAME not in names:
        raise ExportError(f"model {model_name!r} has inputs {names}; rnnx models read {INPUT_NAME}: int64 "
                          "[batch, time] (name the keras.Input 'ids')")
    values, graph_inputs = {}, []
    for kt, name in zip(functional.inputs, names):
        rank = len(kt.shape)
        if name == INPUT_NAME and rank != 2:
            raise ExportError(f"model input {name} has shape {kt.shape}; expected [batch, time] token ids")
        if name != INPUT_NAME and (rank < 2 or _dtype(kt.dtype) != np.int64):
            raise ExportError(f"model input {name} has shape {kt.shape} and dtype {kt.dtype}; the fused exporter "
                              "takes integer inputs of shape [batch, time, ...]")
        dims = ["batch", "time"] + [f"{name}_dim{i}" for i in range(2, rank)]
        graph_inputs.append(GraphBuilder.input(ctx.g.reserve(name), np.int64, dims))
        values[id(kt)] = ctx.cast(Value(name, rank=rank, dtype=np.int64), _dtype(kt.dtype))
    order = sorted(range(len(names)), key=lambda i: names[i] != INPUT_NAME)
    return values, [graph_inputs[i] for i in order]


def _dtype(keras_dtype):
    name = str(getattr(keras_dtype, "name", keras_dtype))
    if name.startswith("int") or name.startswith("uint"):
        return np.int64
    return np.float32


def _output_value(ctx: Context, kt, values: dict):
    """One model output: padded steps zeroed, Keras layout, float32."""
    from pipeline.export.fused.walk import convert_tensor

    if id(kt) not in values:
        raise ExportError(f"model output {kt.name} is not computed from the model input")
    v = values[id(kt)]
    mask_kt = getattr(kt, "_keras_mask", None)
    mask = convert_tensor(ctx, mask_kt, values) if mask_kt is not None and v.rank == 3 else None
    if mask is not None:
        v = ctx.zero_padding(ctx.keras_layout(v), ctx.cast(mask, np.bool_))
    return ctx.cast(ctx.keras_layout(v), np.float32)
