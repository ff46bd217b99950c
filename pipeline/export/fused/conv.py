"""Keras ``Conv1D`` (channels_last): one ONNX ``Conv`` over ``[batch, channels, time]``.

The sequence is transposed into ONNX's ``[N, C, L]`` from whichever layout it
travels in, and the result is written back time-major (``[time, batch, filters]``),
the layout a following recurrent layer reads::

    y[b, t, f] = act(bias[f] + sum_{j, c} x[b, t*s + j*d - p_left, g(f)*C/G + c] * W[j, c, f])

with kernel ``W = [k, C/G, F]`` (ONNX wants ``[F, C/G, k]``), stride ``s``, dilation
``d``, ``G`` groups and out-of-range steps reading 0. Keras paddings:

* ``valid``: ``p_left = 0``, no padding;
* ``causal``: ``p_left = d*(k-1)``, nothing on the right;
* ``same``: ``d*(k-1)`` in total, the odd one on the right (TensorFlow's rule); with
  strides above 1 the total depends on the length, so ONNX ``auto_pad="SAME_UPPER"``.

Keras drops the mask at ``Conv1D`` and reads every step; with ``masks="right"`` it is
refused after a recurrent output whose masked steps Keras fills (``masks.py``).

>>> import keras
>>> from pipeline.export.fused.registry import unsupported_reason
>>> unsupported_reason(keras.layers.Conv1D(4, 3, padding="causal", dilation_rate=2)) is None
True
>>> unsupported_reason(keras.layers.Conv1D(4, 3, data_format="channels_first", name="c"))
'c (Conv1D: data_format channels_first is not supported; use channels_last [batch, time, channels])'
"""

from __future__ import annotations

import keras

from pipeline.export.fused.activations import activation_problem, keras_name, node_activation
from pipeline.export.fused.context import Context
from pipeline.export.fused.masks import reads_masked_steps_problem
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.export.fused.weights import quantized_problem, weights

PADDINGS = ("valid", "same", "causal")


def channels_last_problem(layer) -> str | None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return f"data_format {layer.data_format} is not supported; use channels_last [batch, time, channels]"
    return None


def to_nct(ctx: Context, x: Value, layer) -> str:
    """``x`` (a Keras ``[batch, time, channels]`` sequence in any layout) as ONNX ``[batch, channels, 1, time]``.

    Written as a 2-D image of height 1: ONNX Runtime's blocked (NCHWc) convolution
    and pooling kernels serve 2-D ops only, and ran a Conv1D model 1.25x faster.
    """
    x = ctx.sequence(layer, x)
    perm = [x.onnx_axis(0), x.onnx_axis(2), x.onnx_axis(1)]
    nct = ctx.g.op("Transpose", [x.name], perm=perm, hint=f"{layer.name}_nct")
    return ctx.g.op("Unsqueeze", [nct, ctx.g.ints([2])], hint=f"{layer.name}_nc1t")


def from_nct(ctx: Context, y: str, layer) -> Value:
    """ONNX ``[batch, channels, 1, time]`` back to a time-major sequence Value."""
    nct = ctx.g.op("Squeeze", [y, ctx.g.ints([2])], hint=f"{layer.name}_nct")
    return Value(ctx.g.op("Transpose", [nct], perm=[2, 0, 1], hint=f"{layer.name}_tbc"), rank=3, time_major=True)


def window_2d(window: int, stride: int, dilation: int | None = None) -> dict:
    """``kernel_shape``/``strides``/``dilations`` of a 1-D window on the height-1 image."""
    attrs = {"kernel_shape": [1, window], "strides": [1, stride]}
    if dilation is not None:
        attrs["dilations"] = [1, dilation]
    return attrs


def padding_2d(padding: dict) -> dict:
    """:func:`window_padding`'s 1-D ``pads`` on the time axis of the height-1 image (``auto_pad`` as it is)."""
    if "pads" in padding:
        begin, end = padding["pads"]
        return {"pads": [0, begin, 0, end]}
    return padding


def window_padding(padding: str, window: int, stride: int, dilation: int = 1) -> dict:
    """ONNX ``pads``/``auto_pad`` for a Keras 1-D padding mode.

    >>> window_padding("same", 4, 1), window_padding("causal", 3, 1, 2), window_padding("same", 3, 2)
    ({'pads': [1, 2]}, {'pads': [4, 0]}, {'auto_pad': 'SAME_UPPER'})
    """
    span = dilation * (window - 1)
    if padding == "valid":
        return {"pads": [0, 0]}
    if padding == "causal":
        return {"pads": [span, 0]}
    if stride == 1:
        return {"pads": [span // 2, span - span // 2]}
    return {"auto_pad": "SAME_UPPER"}


def conv1d_problem(layer) -> str | None:
    if layer.padding not in PADDINGS:
        return f"padding {layer.padding!r} is not one of {', '.join(PADDINGS)}"
    return channels_last_problem(layer) or quantized_problem(layer) or activation_problem(layer.activation,
                                                                                        recurrent=False)


@converts(keras.layers.Conv1D, check=conv1d_problem, right_masks_check=reads_masked_steps_problem)
def conv1d(ctx: Context, layer, args, kwargs):
    x = args[0]
    g = ctx.g
    kernel = weights(layer.kernel).transpose(2, 1, 0)[:, :, None, :]  # [k, C/G, F] -> [F, C/G, 1, k]
    inputs = [to_nct(ctx, x, layer), g.const(kernel, f"{layer.name}_kernel")]
    if layer.use_bias:
        inputs.append(g.const(weights(layer.bias), f"{layer.name}_bias"))
    (k,), (s,), (d,) = layer.kernel_size, layer.strides, layer.dilation_rate
    y = g.op("Conv", inputs, group=int(layer.groups), hint=layer.name, **window_2d(k, s, d),
             **padding_2d(window_padding(layer.padding, k, s, d)))
    y = node_activation(keras_name(layer.activation))(g, y)  # on the image, so ONNX Runtime fuses it into the Conv
    return from_nct(ctx, y, layer)
