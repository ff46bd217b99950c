"""rnnx's ``CharCNN`` (``pipeline/models/chars.py``): characters of each token -> one vector.

The layer's computation, written with plain ONNX ops on the ``[tokens, C]`` view
of the ``chars`` input (``tokens = batch * time``)::

    Flatten(chars, axis=2)                     [tokens, C]
    Gather(extended char table)                [tokens, C, D + 1]
    Transpose -> Conv(pads (w-1)/2) -> Tanh    [tokens, filters, C]
    GlobalMaxPool over C                       [tokens, filters, 1]
    Where(token has characters, y, 0)
    Reshape to [batch, time, filters]          from the runtime shape of ``chars``

Padding characters must neither feed the convolution (Keras multiplies them to
zero vectors) nor win the max (Keras replaces their outputs with -1e4). Both are
folded into the weights, so no per-element mask op runs on the large
``[tokens, filters, C]`` tensor (it took a fifth of a BiLSTM-CNN-CRF's time):

* the table gets one extra column, the *padding indicator*: row 0 (the padding
  character) is zeros with indicator 1, every other row is its embedding with
  indicator 0; the ``Gather`` alone gives Keras's zeroed vectors plus the indicator;
* the kernel reads the indicator at its centre tap with weight -1e4, so at a
  padding character the pre-activation is about -1e4 and tanh gives exactly -1.0,
  the bottom of tanh's range: it can tie with a real character's value but never
  exceed it, so the max over the characters equals Keras's max over the real ones.
  The indicator at the other taps has weight 0, so neighbours are unaffected.

A token without characters gives 0, as in Keras (the ``Where``, on ``[tokens, filters, 1]``).

With ``char_spellings`` (export option), the vectors of known spellings come from
a table computed at export and only the other tokens run the convolution
(:mod:`pipeline.export.fused.char_cache`): in the brown corpus 94% of the test
tokens are among the 30,000 most frequent training spellings.

``GlobalMaxPool`` is the max over the character axis; unlike ``ReduceMax`` it has
the same form in every opset the fused exporter writes (``ReduceMax`` takes its
axes as an input from opset 18 on).

Example::

    chars = keras.Input((None, None), dtype="int64", name="chars")
    x = CharCNN(num_chars=100)(chars)      # -> Gather, Conv, Tanh, GlobalMaxPool, ... ([batch, time, 50])
"""

from __future__ import annotations

import numpy as np

from pipeline.export.fused.char_cache import CharCache, fill_unknown, lookup
from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.export.fused.weights import quantized_problem, weights
from pipeline.models.chars import EXCLUDED, CharCNN


@converts(CharCNN, check=quantized_problem, streaming=True)  # per token
def char_cnn(ctx: Context, layer, args, kwargs):
    chars = ctx.keras_layout(args[0])
    if chars.rank != 3:
        raise ctx.fail(layer, f"reads character ids of rank 3 [batch, time, chars], got rank {chars.rank}")
    chars = ctx.cast(chars, np.int64)
    g = ctx.g
    flat = g.op("Flatten", [chars.name], axis=2, hint=f"{layer.name}_ids")                  # [N, C]
    if ctx.options.char_spellings:
        cache = CharCache.build(layer, ctx.options.char_spellings)
        features, known = lookup(ctx, layer.name, cache, flat)
        y = fill_unknown(ctx, layer.name, features, known, flat,
                         lambda rows: g.op("Flatten", [_cnn(ctx, layer, rows)], axis=1))  # [N, F]
    else:
        y = _cnn(ctx, layer, flat)                                                           # [N, F, 1]
        present = g.op("Not", [g.op("Equal", [flat, g.const(np.array(0, np.int64), "zero_i64")])])
        y = g.op("Where", [_has_chars(ctx, present), y, g.const(np.float32(0.0), "zero_f")])
    return Value(g.op("Reshape", [y, _output_shape(ctx, layer, chars)], hint=layer.name), rank=3)


def _cnn(ctx: Context, layer, flat: str) -> str:
    """``[N, filters, 1]``: embedding, convolution, tanh and max over the characters of ``flat`` ``[N, C]``."""
    g = ctx.g
    table = g.const(_extended_table(weights(layer.embeddings)), f"{layer.name}_table")
    vectors = g.op("Gather", [table, flat], axis=0, hint=f"{layer.name}_emb")                  # [N, C, D + 1]
    return g.op("GlobalMaxPool", [_conv_tanh(ctx, layer, vectors)], hint=f"{layer.name}_max")


def _extended_table(table: np.ndarray) -> np.ndarray:
    """``[num_chars, D + 1]``: the embeddings, padding row zeroed, plus the padding indicator column.

    >>> _extended_table(np.array([[5.0, 5.0], [1.0, 2.0], [3.0, 4.0]])).tolist()
    [[0.0, 0.0, 1.0], [1.0, 2.0, 0.0], [3.0, 4.0, 0.0]]
    """
    out = np.concatenate([table, np.zeros((len(table), 1), table.dtype)], axis=1).astype(np.float32)
    out[0] = 0.0
    out[0, -1] = 1.0
    return out


def _conv_tanh(ctx: Context, layer, vectors: str) -> str:
    """``[N, filters, C]``: tanh of the 'same' convolution (zero padding) plus bias; -1 at padding characters."""
    g = ctx.g
    kernel = np.transpose(weights(layer.kernel), (2, 1, 0))          # [width, D, F] -> [F, D, width]
    half = (layer.width - 1) // 2
    indicator = np.zeros((kernel.shape[0], 1, layer.width), np.float32)
    indicator[:, 0, half] = EXCLUDED                                  # the centre tap reads the padding indicator
    kernel = np.concatenate([kernel, indicator], axis=1)             # [F, D + 1, width]
    channels_first = g.op("Transpose", [vectors], perm=[0, 2, 1])     # [N, D + 1, C]
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
