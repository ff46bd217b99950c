"""StatePooling (``pipeline/models/pooling.py``): max or mean over the real time steps.

The states arrive time-major from the recurrent op (``[time, batch, F]``) and are
reduced over time where they are, without a transpose for the mean::

    mean:  ReduceSum(Where(mask, x, 0), time) / Max(lengths, 1)
    max:   Where(mask, x, -1e4) -> [batch, F, time] -> GlobalMaxPool -> Where(lengths > 0, ., 0)

``GlobalMaxPool`` has the same form in every opset the fused exporter writes
(``ReduceMax`` took its axes as an attribute before opset 18).
"""

from __future__ import annotations

import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.models.pooling import EXCLUDED, StatePooling


@converts(StatePooling)
def state_pooling(ctx: Context, layer, args, kwargs):
    x = args[0]
    if x.rank != 3:
        raise ctx.fail(layer, f"pools states of rank 3 [batch, time, features], got rank {x.rank}")
    mask = kwargs.get("mask")
    if not isinstance(mask, Value):
        raise ctx.fail(layer, "needs the padding mask (an Embedding with mask_zero=True before it)")
    g = ctx.g
    x_tm, mask_tm = ctx.time_major(x), ctx.time_major(mask)
    keep = g.op("Unsqueeze", [mask_tm.name, g.ints([2])], hint=f"{layer.name}_keep")          # [T, B, 1]
    lengths = g.op("Unsqueeze", [ctx.lengths(mask), g.ints([1])])                             # [B, 1] int32
    if layer.mode == "mean":
        total = g.op("ReduceSum", [g.op("Where", [keep, x_tm.name, g.const(np.float32(0.0), "zero_f")]),
                                   g.ints([0])], keepdims=0, hint=f"{layer.name}_sum")        # [B, F]
        count = g.op("Cast", [g.op("Max", [lengths, g.const(np.array(1, np.int32), "one_i32")])],
                     to=elem_type(np.float32))
        return Value(g.op("Div", [total, count], hint=layer.name), rank=2)
    masked = g.op("Where", [keep, x_tm.name, g.const(np.float32(EXCLUDED), "state_excluded")])
    pooled = g.op("GlobalMaxPool", [g.op("Transpose", [masked], perm=[1, 2, 0])])             # [B, F, 1]
    pooled = g.op("Squeeze", [pooled, g.ints([2])], hint=f"{layer.name}_max")                 # [B, F]
    nonempty = g.op("Greater", [lengths, g.const(np.array(0, np.int32), "zero_i32")])         # [B, 1]
    return Value(g.op("Where", [nonempty, pooled, g.const(np.float32(0.0), "zero_f")], hint=layer.name), rank=2)
