"""The fused exporter: Keras layers -> ONNX directly, one recurrent op per RNN layer.

No TensorFlow tracing: the converter reads each layer's weights and settings and
writes the ONNX graph with ``onnx.helper``. Masks become ``sequence_lens`` of
ONNX ``RNN``/``GRU``/``LSTM`` ops; masks of any shape (left padding, holes) are
exact through packing (:mod:`~pipeline.export.fused.packing`). It therefore works
for models trained on a GPU, with mixed precision (weights are written as
float32), and under any Keras backend.

Public API:

* :func:`convert` -- ``keras.Model -> onnx.ModelProto`` (not yet finalized: the
  exporter pins IR version and metadata once, :func:`pipeline.export.contract.finalize`);
  ``io="keras"`` keeps the model's own input/output names and dtypes,
  ``io="rnnx"`` writes the rnnx contract (``ids`` -> ``probs``, right padding);
* :func:`unsupported_layers` -- what keeps a model from converting (empty list:
  everything is covered).

Each Keras layer type has one converter function, registered with
``@converts(...)`` in the module for its family: ``embedding.py``, ``recurrent.py``
(with ``ops.py`` for the ONNX op and ``simplernn.py``/``lstm.py``/``gru.py`` for the
cells), ``bidirectional.py``, ``dense.py``, ``activation_layers.py``, ``dropout.py``,
``merge.py``, ``conv.py``, ``pooling1d.py``, ``reshape.py``, ``normalization.py``,
``keras_ops.py``, rnnx's own ``chars.py``/``crf.py``/``pooling.py``, and the refusals
in ``refused.py``. ``packing.py`` makes masks exact, ``streaming.py`` carries state
in and out, ``masks.py`` reads masks off the Keras graph for the checks.

Example:

>>> import keras, numpy as np, onnxruntime as ort
>>> ids = keras.Input((None,), dtype="int64", name="ids")
>>> x = keras.layers.Embedding(50, 8, mask_zero=True)(ids)
>>> x = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))(x)
>>> model = keras.Model(ids, keras.layers.Dense(3, activation="softmax")(x))
>>> unsupported_layers(model)
[]
>>> proto = convert(model)
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
from pipeline.export.contract import INPUT_NAME, OPSET, OUTPUT_NAME
from pipeline.export.fused.context import MASK_FORMS, SIMPLERNN_FORMS, Context, Options

__all__ = ["convert", "unsupported_layers", "Options", "SIMPLERNN_FORMS", "MASK_FORMS", "IO_FORMS"]

MIN_OPSET = 14  # ONNX RNN/GRU/LSTM v14, axes as inputs (Squeeze, ReduceSum, ...)
IO_FORMS = ("rnnx", "keras")


def _load_converters() -> None:
    """Import every converter module, so their ``@converts`` decorators fill the registry."""
    from pipeline.export.fused import all_layers  # noqa: F401


def unsupported_layers(model, *, io: str = "rnnx", masks: str | None = None, streaming: bool = False) -> list[str]:
    """``"name (Type)"`` for each layer or operation of ``model`` the fused exporter cannot convert.

    A covered type with settings that cannot be exported is listed as
    ``"name (Type: reason)"``, e.g. ``"lstm (LSTM: activation: activation 'gelu' has
    no equivalent in an ONNX recurrent op)"``. ``io``/``masks``/``streaming`` as for
    :func:`convert` (an empty list means :func:`convert` with the same arguments succeeds).
    """
    from pipeline.export.fused.walk import functional_of, node_problems

    _load_converters()
    try:
        functional = functional_of(model)
    except ExportError as exc:
        return [f"{getattr(model, 'name', '?')} ({type(model).__name__}: {exc})"]
    return node_problems(functional, Options(masks=_masks(io, masks), streaming=streaming))


def convert(model, *, opset: int = OPSET, io: str = "rnnx", masks: str | None = None, simplernn: str = "auto",
            simplernn_rnn_max_batch: int = 1, streaming: bool = False, char_spellings=()):
    """Convert a Keras functional (or Sequential) model to an ``onnx.ModelProto``.

    ``io="rnnx"`` (rnnx's own models): one integer input ``[batch, time]`` named
    ``ids`` (then integer inputs such as ``chars``), outputs ``probs``, ``probs_1``,
    ..., masks right-padded (``masks="right"``) and padded steps of sequence
    outputs 0. ``io="keras"`` (any model): the model's inputs in ``model.inputs``
    order, any rank, int or float, with their Keras names and dtypes; outputs in
    ``model.outputs`` order named after ``model.output_names``; exact masks of any
    shape (``masks="exact"``) with Keras's values at masked steps.
    ``simplernn``/``simplernn_rnn_max_batch``: see
    :class:`~pipeline.export.fused.context.Options`. ``streaming``: the graph reads
    one chunk ``[batch, chunk, ...]`` and carries each recurrent layer's state in
    ``state_in.<layer>.<h|c>`` and out ``state_out.<layer>.<h|c>``
    (:mod:`~pipeline.export.fused.streaming`). ``char_spellings``: spellings (character
    id sequences) whose character-CNN vectors become a table in the graph
    (:mod:`~pipeline.export.fused.char_cache`).

    Raises :class:`~pipeline.errors.ExportError` naming the first layer (and its
    type) that cannot be converted, before anything is written.
    """
    from pipeline.export.fused.graph import GraphBuilder
    from pipeline.export.fused.walk import convert_graph, functional_of, node_problems

    if opset < MIN_OPSET:
        raise ExportError(f"the fused exporter writes opset {MIN_OPSET} or newer; got opset={opset}")
    if io not in IO_FORMS:
        raise ExportError(f"io={io!r} is not known; choose one of {', '.join(IO_FORMS)}")
    _load_converters()
    functional = functional_of(model)
    options = Options(simplernn=simplernn, simplernn_rnn_max_batch=simplernn_rnn_max_batch,
                      masks=_masks(io, masks), streaming=streaming,
                      char_spellings=tuple(tuple(s) for s in char_spellings))
    problems = node_problems(functional, options)
    if problems:
        raise ExportError(f"the fused exporter cannot convert {problems[0]}"
                          + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                          + "; replace the layer, or export the model with the tf2onnx engine")
    g = GraphBuilder()
    ctx = Context(g, options)
    if io == "rnnx":
        values, graph_inputs = _contract_inputs(ctx, functional, model.name)
        out_names = [OUTPUT_NAME if i == 0 else f"{OUTPUT_NAME}_{i}" for i in range(len(functional.outputs))]
    else:
        values, graph_inputs = _keras_inputs(ctx, functional)
        out_names = keras_output_names(model, functional)
    out_names = [g.fresh(n) if n in g.root._used else g.reserve(n) for n in out_names]  # never an input's name
    convert_graph(ctx, functional, values)
    finals = [_output_value(ctx, kt, values, zero_padding=io == "rnnx") for kt in functional.outputs]
    outputs = []
    for kt, v, name in zip(functional.outputs, finals, out_names):
        shared = sum(f.name == v.name for f in finals) > 1 or v.name in {i.name for i in graph_inputs}
        if shared or not g.rename_output(v.name, name):
            g.op_into("Identity", [v.name], [name])
        dims = _dims(kt.shape, name)
        if v.rank == len(dims) + 1:  # streaming: a running output for every step of the chunk
            dims.insert(1, "time")
        outputs.append(GraphBuilder.output(name, v.dtype, dims))
    graph_inputs += ctx.extra_inputs
    for extra in ctx.extra_outputs:
        g.op_into("Identity", [ctx.keras_layout(extra.value).name], [g.reserve(extra.name)])
        outputs.append(GraphBuilder.output(extra.name, extra.value.dtype, extra.dims))
    return g.model(graph_inputs, outputs, opset=opset, name=model.name)


def _masks(io: str, masks: str | None) -> str:
    """The mask form: as given, else the io form's (rnnx models are right-padded by contract)."""
    return masks or ("right" if io == "rnnx" else "exact")


def _dims(shape, name: str) -> list:
    """ONNX dims for a Keras shape: axis 0 is ``batch``; other unknown axes ``<name>_dim<i>``."""
    dims = []
    for i, d in enumerate(shape):
        if i == 0:
            dims.append("batch" if d is None else int(d))
        elif i == 1 and d is None:
            dims.append("time")
        else:
            dims.append(f"{name}_dim{i}" if d is None else int(d))
    return dims


#: inputs whose axis 1 is not the token axis: a character LM reads the sentence as one character sequence
OTHER_AXES = {"lm_chars": ["batch", "sentence_chars"]}


def _contract_inputs(ctx: Context, functional, model_name: str):
    """Graph inputs of an rnnx model: ``ids`` first, then extra integer inputs (``chars``).

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
                          "[batch, time] (name the keras.Input 'ids'), and other models export with "
                          "pipeline.export.to_onnx")
    values, graph_inputs = {}, []
    for kt, name in zip(functional.inputs, names):
        rank = len(kt.shape)
        if name == INPUT_NAME and rank != 2:
            raise ExportError(f"model input {name} has shape {kt.shape}; rnnx models read [batch, time] token ids "
                              "(other models export with pipeline.export.to_onnx)")
        if name != INPUT_NAME and (rank < 2 or onnx_dtype(kt.dtype) not in (np.int32, np.int64)):
            raise ExportError(f"model input {name} has shape {kt.shape} and dtype {kt.dtype}; rnnx models take "
                              "integer inputs of shape [batch, time, ...] (other models export with "
                              "pipeline.export.to_onnx)")
        dims = OTHER_AXES.get(name) or ["batch", "time"] + [f"{name}_dim{i}" for i in range(2, rank)]
        graph_inputs.append(GraphBuilder.input(ctx.g.reserve(name), np.int64, dims))
        values[id(kt)] = ctx.cast(Value(name, rank=rank, dtype=np.int64), onnx_dtype(kt.dtype))
    order = sorted(range(len(names)), key=lambda i: names[i] != INPUT_NAME)
    return values, [graph_inputs[i] for i in order]


def _keras_inputs(ctx: Context, functional):
    """Graph inputs named and typed as the model's Keras inputs, in ``model.inputs`` order."""
    from pipeline.export.fused.graph import GraphBuilder
    from pipeline.export.fused.values import Value

    values, graph_inputs = {}, []
    for name, kt in zip(keras_input_names(functional), functional.inputs):
        if len(kt.shape) < 1:
            raise ExportError(f"model input {name} is a scalar; inputs need a batch axis")
        dtype = onnx_dtype(kt.dtype)
        graph_inputs.append(GraphBuilder.input(ctx.g.reserve(name), dtype, _dims(kt.shape, name)))
        values[id(kt)] = Value(name, rank=len(kt.shape), dtype=dtype)
    return values, graph_inputs


def _unique(names: list[str]) -> list[str]:
    """``names`` with repeats suffixed ``_1``, ``_2``, ... never colliding with another name.

    >>> _unique(["lstm", "lstm", "lstm_1", "gru"])
    ['lstm', 'lstm_2', 'lstm_1', 'gru']
    """
    taken, out = set(names), []
    for n in names:
        name, k = n, 0
        while name in out or (name != n and name in taken):
            k += 1
            name = f"{n}_{k}"
        out.append(name)
    return out


def keras_input_names(functional) -> list[str]:
    """The name of each model input: its ``keras.Input(name=...)``."""
    return _unique([kt._keras_history.operation.name if getattr(kt, "_keras_history", None) else kt.name
                    for kt in functional.inputs])


def keras_output_names(model, functional) -> list[str]:
    """The name of each model output: ``model.output_names`` (the producing layers' names)."""
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(functional.outputs):
        names = [kt._keras_history.operation.name for kt in functional.outputs]
    return _unique(names)


_DTYPES = {"bool": np.bool_, "int32": np.int32, "int64": np.int64}


def onnx_dtype(keras_dtype):
    """The ONNX-side numpy dtype of a Keras dtype: floats -> float32; int32, int64, bool kept; other ints -> int64."""
    name = str(getattr(keras_dtype, "name", keras_dtype))
    if name in _DTYPES:
        return _DTYPES[name]
    if name.startswith("int") or name.startswith("uint"):
        return np.int64
    return np.float32


def _output_value(ctx: Context, kt, values: dict, *, zero_padding: bool):
    """One model output in Keras layout (``zero_padding``: padded steps set to 0), floats as float32."""
    from pipeline.export.fused.walk import convert_tensor

    if id(kt) not in values:
        raise ExportError(f"model output {kt.name} is not computed from the model inputs")
    v = values[id(kt)]
    if zero_padding:
        mask_kt = getattr(kt, "_keras_mask", None)
        mask = convert_tensor(ctx, mask_kt, values) if mask_kt is not None and v.rank == 3 else None
        if mask is not None:
            v = ctx.zero_padding(ctx.keras_layout(v), ctx.cast(mask, np.bool_))
    v = ctx.keras_layout(v)
    return ctx.cast(v, onnx_dtype(kt.dtype)) if np.dtype(v.dtype).kind == "f" else v
