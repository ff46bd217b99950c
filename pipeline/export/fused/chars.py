"""rnnx's ``CharCNN`` (``pipeline/models/chars.py``): characters of each token -> one vector.

The layer's computation, written with plain ONNX ops on the ``[tokens, C]`` view
of the ``chars`` input (``tokens = batch * time``)::

    Flatten(chars, axis=2)                     [tokens, C]
    Gather(char table) * (chars != 0)          [tokens, C, D]   padding characters are zero vectors
    Transpose -> Conv(pads (w-1)/2) -> Tanh    [tokens, filters, C]
    Where(chars != 0, y, -1e4)                 padding characters never win the max
    GlobalMaxPool over C                       [tokens, filters, 1]
    Where(token has characters, y, 0)
    Reshape to [batch, time, filters]          from the runtime shape of ``chars``

``GlobalMaxPool`` is the max over the character axis; unlike ``ReduceMax`` it has
the same form in every opset the fused exporter writes (``ReduceMax`` takes its
axes as an input from opset 18 on).

Example::

    chars = keras.Input((None, None), dtype="int64", name="chars")
    x = CharCNN(num_chars=100)(chars)      # -> Gather, Conv, Tanh, GlobalMaxPool, ... ([batch, time, 50])
"""

from __future__ import annotations

import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.export.fused.weights import quantized_problem, weights
from pipeline.models.chars import EXCLUDED, CharCNN


@converts(CharCNN, check=quantized_problem)
def char_cnn(ctx: Context, layer, args, kwargs):
    chars = ctx.keras_layout(args[0])
    if chars.rank != 3:
        raise ctx.fail(layer, f"reads character ids of rank 3 [batch, time, chars], got rank {chars.rank}")
    chars = ctx.cast(chars, np.int64)
    g = ctx.g
    flat = g.op("Flatten", [chars.name], axis=2, hint=f"{layer.name}_ids")                  # [N, C]
    present = g.op("Not", [g.op("Equal", [flat, g.const(np.array(0, np.int64), "zero_i64")])])
    vectors = _char_vectors(ctx, layer, flat, present)                                       # [N, C, D]
    y = _conv_tanh(ctx, layer, vectors)                                                      # [N, F, C]
    keep = g.op("Unsqueeze", [present, g.ints([1])])                                         # [N, 1, C]
    y = g.op("Where", [keep, y, g.const(np.float32(EXCLUDED), "char_excluded")])
    y = g.op("GlobalMaxPool", [y], hint=f"{layer.name}_max")                                 # [N, F, 1]
    has_chars = _has_chars(ctx, present)                                                     # [N, 1, 1]
    y = g.op("Where", [has_chars, y, g.const(np.float32(0.0), "zero_f")])
    return Value(g.op("Reshape", [y, _output_shape(ctx, layer, chars)], hint=layer.name), rank=3)


def _char_vectors(ctx: Context, layer, flat: str, present: str) -> str:
    """``[N, C, D]``: the embedded characters, zero vectors at padding."""
    g = ctx.g
    table = g.const(weights(layer.embeddings), f"{layer.name}_table")
    gathered = g.op("Gather", [table, flat], axis=0, hint=f"{layer.name}_emb")
    scale = g.op("Unsqueeze", [g.op("Cast", [present], to=elem_type(np.float32)), g.ints([2])])
    return g.op("Mul", [gathered, scale], hint=f"{layer.name}_emb")


def _conv_tanh(ctx: Context, layer, vectors: str) -> str:
    """``[N, filters, C]``: tanh of the 'same' convolution (zero padding) plus bias."""
    g = ctx.g
    kernel = np.transpose(weights(layer.kernel), (2, 1, 0))          # [width, D, F] -> [F, D, width]
    half = (layer.width - 1) // 2
    channels_first = g.op("Transpose", [vectors], perm=[0, 2, 1])     # [N, D, C]
    conv = g.op("Conv", [channels_first, g.const(kernel, f"{layer.name}_kernel"),
                         g.const(weights(layer.bias), f"{layer.name}_bias")],
                kernel_shape=[layer.width], pads=[half, half], strides=[1], hint=f"{layer.name}_conv")
    return g.op("Tanh", [conv], hint=f"{layer.name}_tanh")


def _has_chars(ctx: Context, present: str) -> str:
    """bool ``[N, 1, 1]``: the token has at least one real character."""
    g = ctx.g
    count = g.op("ReduceSum", [g.op("Cast", [present], to=elem_type(np.int32)), g.ints([1])], keepdims=1)
    positive = g.op("Greater", [count, g.const(np.array(0, np.int32), "zero_i32")])
    return g.op("Unsqueeze", [positive, g.ints([2])])


def _output_shape(ctx: Context, layer, chars: Value) -> str:
    """int64 ``[batch, time, filters]`` from the runtime shape of ``chars``."""
    g = ctx.g
    batch_time = g.op("Slice", [g.op("Shape", [chars.name]), g.ints([0], "start"), g.ints([2], "end")])
    return g.op("Concat", [batch_time, g.ints([layer.filters], "filters")], axis=0)
