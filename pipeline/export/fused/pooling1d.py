"""Keras 1-D pooling: ``MaxPooling1D``, ``AveragePooling1D``, ``GlobalMaxPooling1D``, ``GlobalAveragePooling1D``.

Windowed pooling is ONNX ``MaxPool``/``AveragePool`` over ``[batch, channels, time]``
(see ``conv.py`` for the layouts and the ``same`` padding rule); Keras's ``same``
average divides by the number of real steps in the window, ONNX's
``count_include_pad=0``. The global poolings reduce the time axis where it is
(axis 0 of a time-major sequence), with no transpose::

    GlobalMaxPooling1D:      y[b, f] = max_t x[b, t, f]                      (TopK k=1 over time)
    GlobalAveragePooling1D:  y[b, f] = sum_t m[b, t] x[b, t, f] / sum_t m[b, t]   (m: the mask, else 1)

Masks, as Keras does them: ``GlobalAveragePooling1D`` uses the mask (a row with no
real step divides 0 by 0, NaN, as in Keras) and drops it; the other three drop it
and read every step, so with ``masks="right"`` they are refused after a recurrent
output whose masked steps Keras fills (``masks.py``).

>>> import keras
>>> from pipeline.export.fused.registry import unsupported_reason
>>> unsupported_reason(keras.layers.GlobalAveragePooling1D(keepdims=True)) is None
True
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.conv import channels_last_problem, from_nct, padding_2d, to_nct, window_2d, window_padding
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.masks import reads_masked_steps_problem
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value


def pool_problem(layer) -> str | None:
    if layer.padding not in ("valid", "same"):
        return f"padding {layer.padding!r} is not valid or same"
    return channels_last_problem(layer)


def _pool(op_type: str, **attrs):
    def convert(ctx: Context, layer, args, kwargs):
        (p,), (s,) = layer.pool_size, layer.strides
        y = ctx.g.op(op_type, [to_nct(ctx, args[0], layer)], hint=layer.name, **attrs, **window_2d(p, s),
                     **padding_2d(window_padding(layer.padding, p, s)))
        return from_nct(ctx, y, layer)
    return convert


CARRIED = reads_masked_steps_problem  # Keras drops the mask: refused after carried steps with masks="right"
converts(keras.layers.MaxPooling1D, check=pool_problem, right_masks_check=CARRIED)(_pool("MaxPool"))
converts(keras.layers.AveragePooling1D, check=pool_problem, right_masks_check=CARRIED)(
    _pool("AveragePool", count_include_pad=0))


def _pooled(x: Value, name: str, keepdims: bool) -> Value:
    """A reduced sequence: ``[batch, F]``, or ``[batch, 1, F]`` in ``x``'s layout with ``keepdims``."""
    return Value(name, rank=3, time_major=x.time_major) if keepdims else Value(name, rank=2)


@converts(keras.layers.GlobalMaxPooling1D, check=channels_last_problem, right_masks_check=CARRIED)
def global_max_pooling1d(ctx: Context, layer, args, kwargs):
    x = ctx.sequence(layer, args[0])
    g = ctx.g
    axis = x.onnx_axis(1)
    top, _ = g.op("TopK", [x.name, g.ints([1], "k1")], axis=axis, largest=1, outputs=2, hint=layer.name)
    if layer.keepdims:
        return _pooled(x, top, True)
    return _pooled(x, g.op("Squeeze", [top, g.ints([axis])], hint=layer.name), False)


@converts(keras.layers.GlobalAveragePooling1D, check=channels_last_problem)
def global_average_pooling1d(ctx: Context, layer, args, kwargs):
    x = ctx.sequence(layer, args[0])
    g = ctx.g
    axis, keep = x.onnx_axis(1), int(bool(layer.keepdims))
    mask = kwargs.get("mask")
    if isinstance(mask, Value):
        m = ctx.cast(ctx.time_major(mask) if x.time_major else ctx.keras_layout(mask), np.bool_)
        real = g.op("Unsqueeze", [m.name, g.ints([2])], hint=f"{layer.name}_real")               # [., ., 1]
        kept = g.op("Where", [real, x.name, g.const(np.float32(0.0), "zero_f")])
        total = g.op("ReduceSum", [kept, g.ints([axis])], keepdims=keep, hint=f"{layer.name}_sum")
        count = g.op("ReduceSum", [g.op("Cast", [real], to=elem_type(np.float32)), g.ints([axis])], keepdims=keep)
    else:
        total = g.op("ReduceSum", [x.name, g.ints([axis])], keepdims=keep, hint=f"{layer.name}_sum")
        steps = g.op("Gather", [g.op("Shape", [x.name]), g.const(np.array(axis, np.int64), "axis")], axis=0)
        count = g.op("Cast", [steps], to=elem_type(np.float32))
    return _pooled(x, g.op("Div", [total, count], hint=layer.name), bool(keep))
