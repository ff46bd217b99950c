"""StatePooling (``pipeline/models/pooling.py``): max or mean over the real time steps.

The states arrive time-major from the recurrent op (``[time, batch, F]``) and are
reduced over time where they are, without a transpose for the mean::

    mean:  ReduceSum(Where(mask, x, 0), time) / Max(lengths, 1)
    max:   Where(mask, x, -1e4) -> [batch, F, time] -> GlobalMaxPool -> Where(lengths > 0, ., 0)

``GlobalMaxPool`` has the same form in every opset the fused exporter writes
(``ReduceMax`` took its axes as an attribute before opset 18).

Streaming (``Options.streaming``): the running pool at every step of the chunk
(a classifier's running decision), its statistics carried as state --
``state_in.<layer>.count`` ``[batch, 1]`` (real steps so far) and ``.sum`` (mean) or
``.max`` (max) ``[batch, F]``, all zeros at the start of a sequence::

    mean:  (sum_in + CumSum(x * keep)) / Max(count_in + CumSum(keep), 1)
    max:   Scan over the chunk of Max(m, Where(keep, x, -1e4)), from Where(count_in > 0, max_in, -1e4)
"""


from __future__ import annotations

import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.models.pooling import EXCLUDED, StatePooling


@converts(StatePooling, streaming=True)
def state_pooling(ctx: Context, layer, args, kwargs):
    x = args[0]
    if x.rank != 3:
        raise ctx.fail(layer, f"pools states of rank 3 [batch, time, features], got rank {x.rank}")
    mask = kwargs.get("mask")
    if not isinstance(mask, Value):
        raise ctx.fail(layer, "needs the padding mask (an Embedding with mask_zero=True before it)")
    if ctx.options.streaming:
        return _running_pool(ctx, layer, x, mask)
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


def _running_pool(ctx: Context, layer, x: Value, mask: Value) -> Value:
    """The pool of every prefix of the chunk, continuing the statistics of earlier chunks (streaming)."""
    from pipeline.export.fused.graph import GraphBuilder
    from pipeline.export.fused.streaming import STATE_IN, STATE_OUT

    g = ctx.g
    features = int(layer._inbound_nodes[0].input_tensors[0].shape[-1])
    x_tm = ctx.time_major(x)
    keep_b = g.op("Unsqueeze", [ctx.time_major(ctx.cast(mask, np.bool_)).name, g.ints([2])])      # [T, B, 1]
    keep = g.op("Cast", [keep_b], to=elem_type(np.float32))
    zero_axis = g.const(np.array(0, np.int64), "zero_i64")
    count_in = ctx.add_input(f"{STATE_IN}.{layer.name}.count", np.float32, ["batch", 1]).name
    count = g.op("Add", [count_in, g.op("CumSum", [keep, zero_axis])], hint=f"{layer.name}_count")  # [T, B, 1]
    last = g.const(np.array([-1], np.int64), "last_step")
    ctx.add_output(f"{STATE_OUT}.{layer.name}.count", Value(_last(g, count, last), rank=2), ["batch", 1])
    zero = g.const(np.float32(0.0), "zero_f")
    if layer.mode == "mean":
        sum_in = ctx.add_input(f"{STATE_IN}.{layer.name}.sum", np.float32, ["batch", features]).name
        total = g.op("Add", [sum_in, g.op("CumSum", [g.op("Where", [keep_b, x_tm.name, zero]), zero_axis])])
        ctx.add_output(f"{STATE_OUT}.{layer.name}.sum", Value(_last(g, total, last), rank=2), ["batch", features])
        out = g.op("Div", [total, g.op("Max", [count, g.const(np.float32(1.0), "one_f")])], hint=layer.name)
        return Value(out, rank=3, time_major=True)
    max_in = ctx.add_input(f"{STATE_IN}.{layer.name}.max", np.float32, ["batch", features]).name
    excluded = g.const(np.float32(EXCLUDED), "state_excluded")
    had = g.op("Greater", [count_in, zero])                                                       # [B, 1]
    start = g.op("Where", [had, max_in, excluded], hint=f"{layer.name}_start")                     # [B, F]
    masked = g.op("Where", [keep_b, x_tm.name, excluded])                                         # [T, B, F]
    body = g.subgraph()
    m_prev, x_t = body.fresh("m_prev"), body.fresh("x_t")
    m_next, y_t = body.fresh("m_next"), body.fresh("y_t")
    body.op_into("Max", [m_prev, x_t], [m_next])
    body.op_into("Identity", [m_next], [y_t])
    graph = body.graph(f"{layer.name}_running_max", [GraphBuilder.input(m_prev, np.float32, None),
                                                     GraphBuilder.input(x_t, np.float32, None)],
                       [GraphBuilder.output(m_next, np.float32, None), GraphBuilder.output(y_t, np.float32, None)])
    final, running = g.op("Scan", [start, masked], outputs=2, body=graph, num_scan_inputs=1,
                          hint=f"{layer.name}_running")
    seen = g.op("Greater", [count, zero])                                                         # [T, B, 1]
    out = g.op("Where", [seen, running, zero], hint=layer.name)
    state = g.op("Where", [g.op("Greater", [_last(g, count, last), zero]), final, zero])
    ctx.add_output(f"{STATE_OUT}.{layer.name}.max", Value(state, rank=2), ["batch", features])
    return Value(out, rank=3, time_major=True)


def _last(g, seq: str, last: str) -> str:
    """The last step of a time-major ``[T, B, F]`` tensor: ``[B, F]``."""
    return g.op("Squeeze", [g.op("Gather", [seq, last], axis=0), g.ints([0])])
