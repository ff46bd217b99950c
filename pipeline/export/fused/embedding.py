"""Keras ``Embedding`` and ``Masking``.

``Embedding`` is a ``Gather`` from the float32 table. It gathers with the
*transposed* ids, so the vectors come out time-major (``[time, batch, dim]``),
the layout ONNX recurrent ops read, without moving any float data. The padding
mask (``mask_zero=True``) is not this layer's job: Keras 3 puts it in the model
graph as its own ``not_equal(ids, 0)`` operation (see ``keras_ops.py``).

``Masking`` zeroes the steps whose features all equal ``mask_value`` (its mask is
again a separate ``any(not_equal(x, v), -1)`` in the graph).

Example::

    ids = keras.Input((None,), dtype="int64")
    x = keras.layers.Embedding(20000, 100, mask_zero=True)(ids)   # -> Gather, Transpose of ids
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.export.fused.weights import quantized_problem, weights


@converts(keras.layers.Embedding, check=quantized_problem, streaming=True)
def embedding(ctx: Context, layer, args, kwargs):
    ids = args[0]
    g = ctx.g
    table = g.const(weights(layer.embeddings), f"{layer.name}_table")
    idx = ctx.cast(ids, np.int64) if np.dtype(ids.dtype).kind != "i" else ids
    if idx.rank >= 2:
        idx = ctx.time_major(idx)
    out = g.op("Gather", [table, idx.name], axis=0, hint=layer.name)
    return Value(out, rank=ids.rank + 1, time_major=idx.time_major)


@converts(keras.layers.Masking, streaming=True)
def masking(ctx: Context, layer, args, kwargs):
    x = args[0]
    g = ctx.g
    value = g.const(np.array(layer.mask_value, dtype=np.float32), "mask_value")
    differs = g.op("Not", [g.op("Equal", [x.name, value])])
    count = g.op("ReduceSum", [g.op("Cast", [differs], to=elem_type(np.float32)), g.ints([x.rank - 1])],
                 keepdims=1)
    keep = g.op("Greater", [count, g.const(np.float32(0.0), "zero_f")])
    return x.renamed(g.op("Where", [keep, x.name, g.const(np.float32(0.0), "zero_f")], hint=layer.name))
