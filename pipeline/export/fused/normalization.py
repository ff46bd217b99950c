"""Keras ``BatchNormalization`` (inference), ``LayerNormalization`` and ``RMSNormalization``.

``BatchNormalization`` at inference is an affine map per channel of ``axis``, folded
into two constants (in float64, then float32)::

    y = (x - moving_mean) / sqrt(moving_var + eps) * gamma + beta  =  x * s + t

``LayerNormalization`` normalizes over ``axis`` (one or several Keras axes)::

    y = (x - mean) / sqrt(var + eps) * gamma + beta          (var: population variance)
    y = x / sqrt(var + eps) * gamma                           (rms_scaling=True, as Keras 3 defines it)

``RMSNormalization`` (Keras 3.9+) is ``y = x / sqrt(mean(x^2) + eps) * scale``,
with ``ReduceSum``/``N`` for the means (the axes are inputs of ``ReduceSum`` in
every opset the fused exporter writes). Constants are shaped for the Keras axes
and then laid out like the Value, so a time-major sequence stays time-major.

Masks: ``BatchNormalization`` and ``LayerNormalization`` support masking and pass
the mask on unchanged; neither uses it at inference. ``RMSNormalization`` drops
the mask (Keras warns); with ``masks="right"`` it is refused after a recurrent
output whose masked steps Keras fills (``masks.py``).

>>> import keras
>>> from pipeline.export.fused.registry import unsupported_reason
>>> unsupported_reason(keras.layers.LayerNormalization(axis=[1, 2], rms_scaling=True)) is None
True
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.masks import reads_masked_steps_problem
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.export.fused.weights import weights


def _axes(axis, rank: int) -> list[int]:
    """Keras axes as non-negative ints, in the layer's own order (its parameters' axis order)."""
    axes = [axis] if isinstance(axis, int) else list(axis)
    return [a + rank if a < 0 else a for a in axes]


def _param(ctx: Context, x: Value, axes: list[int], values, hint: str) -> str:
    """A constant broadcasting ``values`` (one dim per entry of ``axes``) over ``x``, laid out like ``x``.

    Like Keras, the parameter is *reshaped* onto the sorted axes (not transposed).
    """
    dims = dict(zip(axes, np.shape(values)))
    shape = [dims.get(a, 1) for a in range(x.rank)]
    arr = np.asarray(values, np.float64).reshape(shape)
    if x.time_major and x.rank >= 2:
        arr = np.swapaxes(arr, 0, 1)
    return ctx.g.const(arr.astype(np.float32), hint)


@converts(keras.layers.BatchNormalization)
def batch_normalization(ctx: Context, layer, args, kwargs):
    x = args[0]
    axes = _axes(layer.axis, x.rank)
    var = weights(layer.moving_variance).astype(np.float64)
    scale = 1.0 / np.sqrt(var + layer.epsilon)
    if layer.scale:
        scale = scale * weights(layer.gamma)
    shift = -weights(layer.moving_mean).astype(np.float64) * scale
    if layer.center:
        shift = shift + weights(layer.beta)
    g = ctx.g
    y = g.op("Mul", [x.name, _param(ctx, x, axes, scale, f"{layer.name}_scale")], hint=layer.name)
    return x.renamed(g.op("Add", [y, _param(ctx, x, axes, shift, f"{layer.name}_shift")], hint=layer.name),
                     dtype=np.float32)


def _mean_over(ctx: Context, x: Value, axes: list[int], hint: str):
    """``mean(t)`` over the Keras ``axes`` of tensors shaped like ``x`` (kept dims): ``ReduceSum / N``."""
    g = ctx.g
    onnx_axes = g.ints(sorted({x.onnx_axis(a) for a in axes}))
    shape = g.op("Shape", [x.name])
    count = g.op("Cast", [g.op("ReduceProd", [g.op("Gather", [shape, onnx_axes], axis=0)], keepdims=0)],
                 to=elem_type(np.float32), hint=f"{hint}_n")
    return lambda t, name: g.op("Div", [g.op("ReduceSum", [t, onnx_axes], keepdims=1), count], hint=name)


def _inverse_root(ctx: Context, t: str, epsilon: float, hint: str) -> str:
    """``1 / sqrt(t + epsilon)``."""
    g = ctx.g
    eps = g.const(np.float32(epsilon), f"{hint}_eps")
    return g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [t, eps])])], hint=f"{hint}_inv")


@converts(keras.layers.LayerNormalization)
def layer_normalization(ctx: Context, layer, args, kwargs):
    x = args[0]
    g = ctx.g
    axes = _axes(layer.axis, x.rank)
    mean = _mean_over(ctx, x, axes, layer.name)
    centred = g.op("Sub", [x.name, mean(x.name, f"{layer.name}_mean")], hint=f"{layer.name}_centred")
    inv = _inverse_root(ctx, mean(g.op("Mul", [centred, centred]), f"{layer.name}_var"), layer.epsilon, layer.name)
    rms = bool(getattr(layer, "rms_scaling", False))
    y = g.op("Mul", [x.name if rms else centred, inv], hint=layer.name)
    if layer.scale:
        y = g.op("Mul", [y, _param(ctx, x, axes, weights(layer.gamma), f"{layer.name}_gamma")], hint=layer.name)
    if layer.center and not rms:
        y = g.op("Add", [y, _param(ctx, x, axes, weights(layer.beta), f"{layer.name}_beta")], hint=layer.name)
    return x.renamed(y, dtype=np.float32)


@converts(getattr(keras.layers, "RMSNormalization", None), right_masks_check=reads_masked_steps_problem)
def rms_normalization(ctx: Context, layer, args, kwargs):
    x = args[0]
    g = ctx.g
    axes = _axes(layer.axis, x.rank)
    mean = _mean_over(ctx, x, axes, layer.name)
    inv = _inverse_root(ctx, mean(g.op("Mul", [x.name, x.name]), f"{layer.name}_ms"), layer.epsilon, layer.name)
    y = g.op("Mul", [x.name, inv], hint=layer.name)
    y = g.op("Mul", [y, _param(ctx, x, axes, weights(layer.scale), f"{layer.name}_scale")], hint=layer.name)
    return x.renamed(y, dtype=np.float32)
