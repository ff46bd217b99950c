"""Keras ``Concatenate`` (the layer, and the ``ops.concatenate`` Keras writes for masks) and the
element-wise merges ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``.

Concatenating on the feature axis works in either layout; any other axis is done
in the Keras layout.

Example::

    both = keras.layers.Concatenate()([lstm_out, gru_out])   # -> one ONNX Concat on the last axis
    total = keras.layers.Add()([lstm_out, gru_out])           # -> one ONNX Add, layout kept

>>> import keras
>>> from pipeline.export.fused.registry import unsupported_reason
>>> ids = keras.Input((None,), dtype="int64")
>>> x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
>>> _ = keras.layers.Add(name="sum")([x, x]), keras.layers.Maximum(name="most")([x, x])
>>> unsupported_reason(_[0]._keras_history[0]) is None, unsupported_reason(_[1]._keras_history[0]) is None
(True, True)
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value


def concatenate(ctx: Context, values: list[Value], axis: int, hint: str) -> Value:
    values = ctx.same_layout(list(values))
    first = values[0]
    if first.time_major and first.touches_batch_or_time(axis):
        values = [ctx.keras_layout(v) for v in values]
        first = values[0]
    return first.renamed(ctx.g.op("Concat", [v.name for v in values], axis=first.onnx_axis(axis), hint=hint))


def concat_problem(layer) -> str | None:
    return None if isinstance(layer.axis, int) else f"axis {layer.axis!r} is not an int"


def _concat_streaming_problem(layer) -> str | None:
    if layer.axis in (0, 1):
        return "concatenates along the batch or time axis; a streaming export reads one chunk of steps at a time"
    return None


@converts(keras.layers.Concatenate, check=concat_problem, per_step=False, streaming=_concat_streaming_problem)
def concatenate_layer(ctx: Context, layer, args, kwargs):
    return concatenate(ctx, args[0], layer.axis, hint=layer.name)


# -- element-wise merges ---------------------------------------------------------------
#
#   Add: x1 + x2 + ...    Subtract: x1 - x2    Multiply: x1 * x2 * ...
#   Average: (x1 + x2 + ...) / n    Maximum / Minimum: element-wise over the inputs
#
# One ONNX op over all inputs, in whichever layout they share. The output mask is
# Keras's own: ``compute_mask`` ORs the inputs' masks into the graph as
# ``logical_or`` operations (``keras_ops.py``), or gives none when an input has none.
# ``Multiply``, ``Maximum`` and ``Minimum`` also *use* their inputs' masks inside the
# layer (Keras's ``_merge_function``): a masked input counts as 1 in a product (and
# the product is 0 where every input is masked, when all have masks); a max/min folds
# left to right, each masked value replaced by the running result (and the running
# result by the new value where it is masked). Those converters read the inputs'
# masks (``input_masks=True``) and write the same selects.

def _same_rank_problem(layer) -> str | None:
    for node in getattr(layer, "_inbound_nodes", []):
        ranks = {len(t.shape) for t in node.input_tensors}
        if len(ranks) > 1:
            return f"inputs of different ranks {sorted(ranks)} (Keras expands and transposes them)"
    return None


def _masked_merge(ctx: Context, layer, values: list[Value], masks: list, onnx_op: str) -> Value:
    """Keras's mask-aware ``Multiply`` (``onnx_op="Mul"``) or ``Maximum``/``Minimum`` (``"Max"``/``"Min"``)."""
    g = ctx.g
    values = [ctx.keras_layout(v) for v in values]
    keeps = [None if m is None else g.op("Unsqueeze", [ctx.keras_layout(ctx.cast(m, np.bool_)).name, g.ints([-1])])
             for m in masks]
    if onnx_op == "Mul":
        one = g.const(np.float32(1.0), "one_f")
        name = None
        for v, keep in zip(values, keeps):
            x = v.name if keep is None else g.op("Where", [keep, v.name, one])
            name = x if name is None else g.op("Mul", [name, x], hint=layer.name)
        if all(k is not None for k in keeps):
            any_real = keeps[0]
            for keep in keeps[1:]:
                any_real = g.op("Or", [any_real, keep])
            name = g.op("Where", [any_real, name, g.const(np.float32(0.0), "zero_f")], hint=layer.name)
        return values[0].renamed(name)
    out, out_keep = values[0].name, keeps[0]
    for v, keep in zip(values[1:], keeps[1:]):
        x = v.name if keep is None else g.op("Where", [keep, v.name, out])
        if out_keep is not None:
            out = g.op("Where", [out_keep, out, x])
        out_keep = g.op("Or", [out_keep, keep]) if keep is not None and out_keep is not None else None
        out = g.op(onnx_op, [out, x], hint=layer.name)
    return values[0].renamed(out)


def _elementwise(onnx_op: str, *, mean: bool = False):
    def convert(ctx: Context, layer, args, kwargs):
        masks = kwargs.get("input_masks") or []
        if any(m is not None for m in masks):
            return _masked_merge(ctx, layer, list(args[0]), masks, onnx_op)
        inputs = ctx.same_layout(list(args[0]))
        if onnx_op == "Sub" and len(inputs) != 2:
            raise ctx.fail(layer, f"subtracts exactly 2 inputs, got {len(inputs)}")
        g = ctx.g
        big = max(inputs, key=lambda v: v.rank)
        if onnx_op in ("Add", "Mul", "Sub"):  # binary in ONNX: chain left to right, as Keras does
            name = inputs[0].name
            for v in inputs[1:]:
                name = g.op(onnx_op, [name, v.name], hint=layer.name)
        else:
            name = g.op(onnx_op, [v.name for v in inputs], hint=layer.name)
        if mean:
            name = g.op("Div", [name, g.const(np.float32(len(inputs)), f"{layer.name}_n")], hint=layer.name)
        return big.renamed(name)
    return convert


converts(keras.layers.Add, streaming=True, check=_same_rank_problem)(_elementwise("Add"))
converts(keras.layers.Subtract, streaming=True, check=_same_rank_problem)(_elementwise("Sub"))
converts(keras.layers.Average, streaming=True, check=_same_rank_problem)(_elementwise("Add", mean=True))
converts(keras.layers.Multiply, streaming=True, check=_same_rank_problem, input_masks=True)(_elementwise("Mul"))
converts(keras.layers.Maximum, streaming=True, check=_same_rank_problem, input_masks=True)(_elementwise("Max"))
converts(keras.layers.Minimum, streaming=True, check=_same_rank_problem, input_masks=True)(_elementwise("Min"))
