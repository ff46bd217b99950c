"""Keras activation layers: ``ReLU``, ``LeakyReLU``, ``ELU``, ``PReLU``, ``Softmax``.

Element-wise, so they keep the Value's layout (a time-major recurrent output stays
time-major) and pass the mask on, as Keras does (``supports_masking=True``)::

    ReLU(max_value=m, negative_slope=a, threshold=t):
        y = Min(Where(x >= t, x, a * (x - t)), m)
    LeakyReLU(negative_slope=a) -> LeakyRelu(alpha=a);  ELU(alpha=a) -> Elu(alpha=a)
    PReLU -> PRelu(x, alpha)                  (alpha broadcast as Keras stores it)
    Softmax(axis) -> Softmax / exp(x - ReduceLogSumExp(x, axes)) for several axes

>>> import keras, numpy as np, onnxruntime as ort
>>> from pipeline.export import to_onnx
>>> x = keras.Input((None, 3), name="x")
>>> y = keras.layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)(keras.layers.LSTM(4, return_sequences=True)(x))
>>> model = keras.Model(x, y)
>>> batch = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
>>> got = ort.InferenceSession(to_onnx(model).SerializeToString()).run(None, {"x": batch})[0]
>>> bool(np.abs(got - model(batch)).max() < 1e-6)
True
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.export.fused.weights import weights


def _f(value) -> np.float32:
    return np.float32(float(value))


@converts(keras.layers.ReLU, per_step=True)
def relu(ctx: Context, layer, args, kwargs):
    x = args[0]
    g = ctx.g
    slope, threshold = float(layer.negative_slope or 0.0), float(layer.threshold or 0.0)
    if slope == 0.0 and threshold == 0.0:
        y = g.op("Relu", [x.name], hint=layer.name)
    else:
        t = g.const(_f(threshold), "relu_threshold")
        below = g.op("Mul", [g.op("Sub", [x.name, t]), g.const(_f(slope), "relu_slope")])
        y = g.op("Where", [g.op("GreaterOrEqual", [x.name, t]), x.name, below], hint=layer.name)
    if layer.max_value is not None:
        y = g.op("Min", [y, g.const(_f(layer.max_value), "relu_max")], hint=layer.name)
    return x.renamed(y)


@converts(keras.layers.LeakyReLU, per_step=True)
def leaky_relu(ctx: Context, layer, args, kwargs):
    x = args[0]
    return x.renamed(ctx.g.op("LeakyRelu", [x.name], alpha=float(layer.negative_slope), hint=layer.name))


@converts(keras.layers.ELU, per_step=True)
def elu(ctx: Context, layer, args, kwargs):
    x = args[0]
    return x.renamed(ctx.g.op("Elu", [x.name], alpha=float(layer.alpha), hint=layer.name))


@converts(keras.layers.PReLU, per_step=True)
def prelu(ctx: Context, layer, args, kwargs):
    x = args[0]
    alpha = weights(layer.alpha)                      # input_shape[1:], shared axes of size 1
    if alpha.ndim > 1 and all(d == 1 for d in alpha.shape[:-1]):
        alpha = alpha.reshape(alpha.shape[-1])        # the feature axis only: any layout
    elif x.time_major:
        x = ctx.keras_layout(x)
    return x.renamed(ctx.g.op("PRelu", [x.name, ctx.g.const(alpha, f"{layer.name}_alpha")], hint=layer.name))


def softmax_problem(layer) -> str | None:
    from pipeline.export.fused.masks import has_input_mask

    if has_input_mask(layer):
        return "a Softmax called with a mask (Keras's large-negative fill) is not supported"
    return None


@converts(keras.layers.Softmax, check=softmax_problem)
def softmax(ctx: Context, layer, args, kwargs):
    x = args[0]
    axes = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if x.time_major and any(x.touches_batch_or_time(a) for a in axes):
        x = ctx.keras_layout(x)
    onnx_axes = [x.onnx_axis(a) for a in axes]
    g = ctx.g
    if len(onnx_axes) == 1:
        return x.renamed(g.op("Softmax", [x.name], axis=onnx_axes[0], hint=layer.name))
    lse = g.op("ReduceLogSumExp", [x.name], axes=onnx_axes, keepdims=1)  # axes attribute up to opset 17
    return Value(g.op("Exp", [g.op("Sub", [x.name, lse])], hint=layer.name), rank=x.rank, time_major=x.time_major)
