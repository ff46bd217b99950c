"""Keras ``RepeatVector``, ``Reshape``, ``Flatten``, ``Permute``, ``ZeroPadding1D``, ``Cropping1D``,
``UpSampling1D``: moving data, no arithmetic.

* ``RepeatVector(n)``: ``[batch, F] -> [batch, n, F]``, written time-major as
  ``Expand(Unsqueeze(x, 0), [n, 1, 1])`` (the layout a following recurrent layer reads);
* ``Reshape(target)``: ONNX ``Reshape`` of the Keras layout to ``[0, *target]``
  (``0`` keeps the batch size; one ``-1`` may stand for the rest, as in Keras);
* ``Flatten``: ``Reshape`` to ``[0, -1]`` (``channels_first`` first moves the
  channel axis last, as Keras does);
* ``Permute(dims)``: one ``Transpose``, composed with the Value's layout;
* ``ZeroPadding1D((a, b))`` / ``Cropping1D((a, b))``: ``Pad`` / ``Slice`` of the time
  axis where it is;
* ``UpSampling1D(n)``: each step ``n`` times, ``[t0, t0, t1, t1, ...]`` (``Expand`` of a
  new axis after time, merged into time).

Keras drops the mask at all of them (none supports masking); with ``masks="right"``
they are refused after a recurrent output whose masked steps Keras fills with
carried values (``masks.py``).

>>> import keras
>>> from pipeline.export.fused.registry import find
>>> find(keras.layers.Permute((2, 1))).fn is permute
True
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.masks import reads_masked_steps_problem
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value


@converts(keras.layers.RepeatVector, right_masks_check=reads_masked_steps_problem)
def repeat_vector(ctx: Context, layer, args, kwargs):
    x = ctx.keras_layout(args[0])
    if x.rank != 2:
        raise ctx.fail(layer, f"expects [batch, features], got rank {x.rank}")
    g = ctx.g
    one = g.op("Unsqueeze", [x.name, g.ints([0])], hint=f"{layer.name}_1bf")
    out = g.op("Expand", [one, g.ints([int(layer.n), 1, 1], "repeats")], hint=layer.name)
    return Value(out, rank=3, time_major=True, dtype=x.dtype)


def _target_shape(layer) -> list[int]:
    return [-1 if d is None else int(d) for d in layer.target_shape]


def reshape_problem(layer) -> str | None:
    if sum(d == -1 for d in _target_shape(layer)) > 1:
        return f"target_shape {layer.target_shape} has more than one unknown dimension"
    return None


@converts(keras.layers.Reshape, check=reshape_problem, right_masks_check=reads_masked_steps_problem)
def reshape(ctx: Context, layer, args, kwargs):
    x = ctx.keras_layout(args[0])
    shape = [0] + _target_shape(layer)
    out = ctx.g.op("Reshape", [x.name, ctx.g.ints(shape, "shape")], hint=layer.name)
    return Value(out, rank=len(shape), dtype=x.dtype)


@converts(keras.layers.Flatten, right_masks_check=reads_masked_steps_problem)
def flatten(ctx: Context, layer, args, kwargs):
    x = args[0]
    g = ctx.g
    if x.rank < 2:
        return Value(g.op("Unsqueeze", [x.name, g.ints([1])], hint=layer.name), rank=2, dtype=x.dtype)
    keras_order = list(range(x.rank))
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        keras_order = [0, *range(2, x.rank), 1]
    perm = [x.onnx_axis(a) for a in keras_order]
    name = x.name if perm == list(range(x.rank)) else g.op("Transpose", [x.name], perm=perm, hint=f"{layer.name}_t")
    return Value(g.op("Reshape", [name, g.ints([0, -1], "shape")], hint=layer.name), rank=2, dtype=x.dtype)


@converts(keras.layers.Permute, right_masks_check=reads_masked_steps_problem)
def permute(ctx: Context, layer, args, kwargs):
    x = args[0]
    keras_order = [0, *(int(d) for d in layer.dims)]
    if len(keras_order) != x.rank:
        raise ctx.fail(layer, f"dims {layer.dims} do not match an input of rank {x.rank}")
    perm = [x.onnx_axis(a) for a in keras_order]
    if perm == list(range(x.rank)):
        return Value(x.name, rank=x.rank, dtype=x.dtype)
    return Value(ctx.g.op("Transpose", [x.name], perm=perm, hint=layer.name), rank=x.rank, dtype=x.dtype)




def _time_layer_problem(layer) -> str | None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return f"data_format {layer.data_format} is not supported; use channels_last [batch, time, channels]"
    return None


@converts(keras.layers.ZeroPadding1D, check=_time_layer_problem, right_masks_check=reads_masked_steps_problem)
def zero_padding1d(ctx: Context, layer, args, kwargs):
    x = ctx.sequence(layer, args[0])
    before, after = (int(p) for p in layer.padding)
    pads = [0] * (2 * x.rank)
    pads[x.onnx_axis(1)], pads[x.rank + x.onnx_axis(1)] = before, after
    return x.renamed(ctx.g.op("Pad", [x.name, ctx.g.ints(pads, "pads")], hint=layer.name))


@converts(keras.layers.Cropping1D, check=_time_layer_problem, right_masks_check=reads_masked_steps_problem)
def cropping1d(ctx: Context, layer, args, kwargs):
    x = ctx.sequence(layer, args[0])
    g = ctx.g
    start, stop = (int(c) for c in layer.cropping)
    end = -stop if stop else np.iinfo(np.int64).max
    out = g.op("Slice", [x.name, g.ints([start], "starts"), g.ints([end], "ends"), g.ints([x.onnx_axis(1)])],
               hint=layer.name)
    return x.renamed(out)


@converts(keras.layers.UpSampling1D, right_masks_check=reads_masked_steps_problem)
def up_sampling1d(ctx: Context, layer, args, kwargs):
    x = ctx.time_major(ctx.sequence(layer, args[0]))                                     # [T, B, F]
    g = ctx.g
    n = int(layer.size)
    copies = g.op("Expand", [g.op("Unsqueeze", [x.name, g.ints([1])]), g.ints([1, n, 1, 1], "repeats")])
    rest = g.op("Slice", [g.op("Shape", [x.name]), g.ints([1], "starts"), g.ints([x.rank], "ends")])   # [B, F]
    shape = g.op("Concat", [g.ints([-1], "minus_one"), rest], axis=0)
    return x.renamed(g.op("Reshape", [copies, shape], hint=layer.name))                    # [T*n, B, F]
