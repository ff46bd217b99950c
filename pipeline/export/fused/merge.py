"""Keras ``Concatenate`` (the layer, and the ``ops.concatenate`` Keras writes for masks).

Concatenating on the feature axis works in either layout; any other axis is done
in the Keras layout.

Example::

    both = keras.layers.Concatenate()([lstm_out, gru_out])   # -> one ONNX Concat on the last axis
"""

from __future__ import annotations

import keras

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


@converts(keras.layers.Concatenate, check=concat_problem, per_step=False)
def concatenate_layer(ctx: Context, layer, args, kwargs):
    return concatenate(ctx, args[0], layer.axis, hint=layer.name)
