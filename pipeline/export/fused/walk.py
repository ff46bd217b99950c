"""Walk a Keras functional graph and convert every call, in dependency order.

This follows what Keras itself does when it runs a functional model
(``Function._run_through_graph``): nodes by decreasing depth, each call's
arguments looked up by Keras-tensor identity. So shared layers, multiple
branches, ``Concatenate`` and the mask operations Keras writes into the graph are
all handled the same way: one registered converter per operation type.

Example::

    values = convert_graph(ctx, functional, {id(functional.inputs[0]): ids_value})
"""

from __future__ import annotations

from pipeline.errors import ExportError
from pipeline.export.fused.context import Context
from pipeline.export.fused.registry import describe, find, unsupported_reason
from pipeline.export.fused.values import Value


def functional_of(model):
    """The functional graph of ``model`` (a Functional model or a built Sequential)."""
    import keras

    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise ExportError(f"Sequential model {model.name!r} has no graph yet; start it with keras.Input(...) "
                              "or call it on data once before exporting")
        return graph
    if not hasattr(model, "_nodes_by_depth") or not getattr(model, "inputs", None):
        raise ExportError(f"model {model.name!r} ({type(model).__name__}) is not a functional or Sequential model; "
                          "the fused exporter reads the layer graph (subclassed models export with the tf2onnx engine)")
    return model


def graph_nodes(functional):
    """Nodes in execution order (inputs first), skipping the input layers."""
    for depth in sorted(functional._nodes_by_depth, reverse=True):
        for node in functional._nodes_by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            yield node


def _tensor_kwargs(node) -> list[str]:
    """Names of keyword arguments carrying Keras tensors that the op's converter does not read.

    ``mask`` is read by every converter that needs it; others are declared with
    ``@converts(..., tensor_kwargs=("initial_state",))``.
    """
    from keras.src import tree
    from keras.src.backend import KerasTensor

    conv = find(node.operation)
    accepted = {"mask", *(conv.tensor_kwargs if conv else ())}
    return [k for k, v in node.arguments.kwargs.items()
            if k not in accepted and any(isinstance(t, KerasTensor) for t in tree.flatten(v))]


def node_problem(node, options=None) -> str | None:
    """Why this call cannot be converted (``"name (Type)"`` or ``"name (Type: reason)"``), or ``None``.

    ``options``: the export's :class:`~pipeline.export.fused.context.Options` (default ones if ``None``).
    """
    op = node.operation
    why = unsupported_reason(op, options)
    if why is None and _tensor_kwargs(node):
        why = f"{op.name} ({type(op).__name__}: called with tensor argument(s) {', '.join(_tensor_kwargs(node))})"
    return why


def node_problems(functional, options=None) -> list[str]:
    """:func:`node_problem` for every call in the graph, each operation listed once."""
    problems: list[str] = []
    for node in graph_nodes(functional):
        why = node_problem(node, options)
        if why and why not in problems:
            problems.append(why)
    return problems


def convert_graph(ctx: Context, functional, values: dict[int, Value]) -> dict[int, Value]:
    """Convert every node; ``values`` maps ``id(KerasTensor)`` to Values and is extended in place."""
    for node in graph_nodes(functional):
        _convert_node(ctx, node, values)
    return values


def _convert_node(ctx: Context, node, values: dict[int, Value]) -> None:
    op = node.operation
    conv = find(op)
    why = node_problem(node, ctx.options)
    if why is not None:
        raise ExportError(f"the fused exporter has no converter for {why}; "
                          "replace the layer, or export the model with the tf2onnx engine")
    if any(id(t) not in values for t in node.input_tensors):
        raise ExportError(f"{describe(op)} reads a tensor that is not computed from the model inputs")
    args, kwargs = node.arguments.fill_in(values)
    if conv.input_masks:
        kwargs = {**kwargs, "input_masks": [_mask_of(ctx, t, values) for t in node.input_tensors]}
    result = conv.fn(ctx, op, args, kwargs)
    produced = list(result) if isinstance(result, (list, tuple)) else [result]
    if len(produced) != len(node.outputs):
        raise ExportError(f"{describe(op)}: converter gave {len(produced)} outputs, Keras has "
                          f"{len(node.outputs)}")
    for kt, value in zip(node.outputs, produced):
        values[id(kt)] = value


def _mask_of(ctx: Context, kt, values: dict[int, Value]) -> Value | None:
    """The Value of ``kt``'s Keras mask, or ``None`` when it has none."""
    mask = getattr(kt, "_keras_mask", None)
    return convert_tensor(ctx, mask, values) if mask is not None else None


def convert_tensor(ctx: Context, kt, values: dict[int, Value]) -> Value | None:
    """The Value of ``kt``, converting the calls that produce it when the model graph skipped them.

    A model output's mask (``kt._keras_mask``) is built by Keras operations that are
    only part of the model graph when some layer consumes the mask; for the
    output itself they are followed here through ``_keras_history``. Returns
    ``None`` when ``kt`` does not come from the model input.
    """
    if id(kt) in values:
        return values[id(kt)]
    history = getattr(kt, "_keras_history", None)
    if history is None:
        return None
    node = history.operation._inbound_nodes[history.node_index]
    if node.is_input:
        return None
    for parent in node.input_tensors:
        if convert_tensor(ctx, parent, values) is None:
            return None
    _convert_node(ctx, node, values)
    return values.get(id(kt))
