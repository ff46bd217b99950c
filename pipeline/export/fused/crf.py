"""The ``CRF`` output layer of a tagger: ``probs`` flow on, the Viterbi path becomes graph output ``tags``.

The layer is the identity on ``probs``; the converter adds the graph output
``tags`` (int64 ``[batch, time]``, padded positions 0), decoded inside the graph
with opset-17 ``ai.onnx`` ops only:

1. ``e = Log(Max(probs, floor))``, time-major ``[T, B, L]``;
2. a forward ``Scan`` over time: state ``score [B, L]``, each step
   ``cand = score[:, :, None] + transitions``, ``bp = ArgMax(cand, axis=1)``,
   ``score' = cand[bp] + e_t`` (``start + e_0`` at step 0); padded steps keep the
   scores and write identity back-pointers;
3. ``last = ArgMax(score + end)``, then a reverse ``Scan`` over the back-pointers:
   it writes the current tag at step ``t`` and moves to ``bp_t[b, tag]``
   (``GatherElements``), so padded steps repeat the last real tag;
4. padded positions set to 0.

The float32 arithmetic is that of :func:`pipeline.scoring.decode.viterbi`, so numpy and
ONNX Runtime give identical paths. Lengths come from the mask the layer is called
with (right padding); without a mask every row is full length.

Example::

    probs = keras.layers.Dense(L, activation="softmax", name="probs")(x)
    model = CRFTagger(inputs=ids, outputs=CRF(L)(probs))
    proto = convert(model)      # graph outputs: probs, tags
"""

from __future__ import annotations

import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import GraphBuilder, elem_type
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.models.crf import CRF, EMISSION_FLOOR

TAGS_OUTPUT = "tags"


def crf_problem(layer) -> str | None:
    """Why ``layer`` cannot be exported (no weights yet, non-finite weights), or ``None``."""
    if not layer.built:
        return "the layer has no weights yet; call the model on a batch (or build it) before exporting"
    for name, w in zip(("transitions", "start", "end"), _weights(layer)):
        if not np.all(np.isfinite(w)):
            return f"{name} holds NaN or inf; the Viterbi decode would be meaningless (retrain the model)"
    return None


def _weights(layer):
    import keras

    return tuple(np.asarray(keras.ops.convert_to_numpy(w), np.float32)
                 for w in (layer.transitions, layer.start, layer.end))


@converts(CRF, check=crf_problem)
def crf(ctx: Context, layer, args, kwargs):
    probs = args[0]
    if probs.rank != 3:
        raise ctx.fail(layer, f"expects label probabilities [batch, time, labels], got a rank-{probs.rank} input; "
                              "put the CRF right after the softmax Dense layer of a tagger")
    mask = kwargs.get("mask")
    if isinstance(mask, (list, tuple)):
        mask = mask[0]
    tags = viterbi_tags(ctx, probs, mask if isinstance(mask, Value) else None, *_weights(layer),
                        hint=layer.name)
    ctx.add_output(TAGS_OUTPUT, tags, ["batch", "time"])
    return probs


def viterbi_tags(ctx: Context, probs: Value, mask: Value | None, transitions, start, end, *,
                 hint: str = "crf") -> Value:
    """int64 time-major ``[T, B]``: the Viterbi path of every row, 0 past its length."""
    g = ctx.g
    x = ctx.time_major(ctx.cast(probs, np.float32))
    floor = g.const(np.float32(EMISSION_FLOOR), "crf_floor")
    e = g.op("Log", [g.op("Max", [x.name, floor], hint=f"{hint}_floored")], hint=f"{hint}_emissions")  # [T, B, L]
    shape = g.op("Shape", [e], hint=f"{hint}_shape")
    time = g.op("Gather", [shape, g.const(np.array(0, np.int64), "idx0")], axis=0, hint=f"{hint}_time")   # scalar
    batch = g.op("Gather", [shape, g.ints([1])], axis=0, hint=f"{hint}_batch")                            # [1]
    steps = g.op("Range", [g.const(np.array(0, np.int64), "zero_i64"), time,
                           g.const(np.array(1, np.int64), "one_i64")], hint=f"{hint}_steps")             # [T]
    lengths = _lengths(ctx, mask, time, batch, hint)
    live = g.op("Less", [g.op("Unsqueeze", [steps, g.ints([1])]), g.op("Unsqueeze", [lengths, g.ints([0])])])
    live = g.op("Unsqueeze", [live, g.ints([2])], hint=f"{hint}_live")                                  # [T, B, 1]
    first = g.op("Equal", [steps, g.const(np.array(0, np.int64), "zero_i64")], hint=f"{hint}_first")   # [T]
    labels = transitions.shape[0]
    score0 = g.op("ConstantOfShape", [g.op("Concat", [batch, g.ints([labels], "labels")], axis=0)],
                  value=_zero_float(), hint=f"{hint}_score0")
    scores, pointers = _forward(ctx, score0, e, live, first, transitions, start, hint)
    last = g.op("ArgMax", [g.op("Add", [scores, g.const(end, f"{hint}_end")])], axis=1, keepdims=1,
                select_last_index=0, hint=f"{hint}_last")                                               # [B, 1]
    path = _backtrack(ctx, last, pointers, hint)                                                        # [T, B, 1]
    path = g.op("Where", [live, path, g.const(np.array(0, np.int64), "zero_i64")])
    return Value(g.op("Squeeze", [path, g.ints([2])], hint=f"{hint}_path"), rank=2, time_major=True,
                 dtype=np.int64)


def _lengths(ctx: Context, mask: Value | None, time: str, batch: str, hint: str) -> str:
    """int64 ``[B]``: real steps per row (all of them without a mask)."""
    g = ctx.g
    if mask is None:
        return g.op("Expand", [time, batch], hint=f"{hint}_lengths")
    return g.op("Cast", [ctx.lengths(mask)], to=elem_type(np.int64), hint=f"{hint}_lengths")


def _forward(ctx: Context, score0: str, e: str, live: str, first: str, transitions, start, hint: str):
    """Forward Scan: final scores ``[B, L]`` and back-pointers ``[T, B, L]`` (identity at padded steps)."""
    g = ctx.g
    trans = g.const(np.asarray(transitions, np.float32), f"{hint}_transitions")
    start_c = g.const(np.asarray(start, np.float32), f"{hint}_start")
    identity = g.const(np.arange(transitions.shape[0], dtype=np.int64), f"{hint}_identity")

    body = g.subgraph()
    prev, e_t, m_t, first_t = (body.fresh(n) for n in ("score_prev", "e_t", "live_t", "first_t"))
    cand = body.op("Add", [body.op("Unsqueeze", [prev, g.ints([2])]), trans], hint="cand")        # [B, i, j]
    best = body.op("ArgMax", [cand], axis=1, keepdims=1, select_last_index=0, hint="best")       # [B, 1, j]
    top = body.op("Squeeze", [body.op("GatherElements", [cand, best], axis=1), g.ints([1])], hint="top")
    moved = body.op("Add", [top, e_t], hint="moved")
    opened = body.op("Add", [start_c, e_t], hint="opened")
    new = body.op("Where", [first_t, opened, moved], hint="new")
    score_next, pointer = body.fresh("score_next"), body.fresh("pointer")
    body.op_into("Where", [m_t, new, prev], [score_next])
    body.op_into("Where", [m_t, body.op("Squeeze", [best, g.ints([1])]), identity], [pointer])
    graph = body.graph(f"{hint}_viterbi_step",
                       [GraphBuilder.input(prev, np.float32, None), GraphBuilder.input(e_t, np.float32, None),
                        GraphBuilder.input(m_t, np.bool_, None), GraphBuilder.input(first_t, np.bool_, None)],
                       [GraphBuilder.output(score_next, np.float32, None),
                        GraphBuilder.output(pointer, np.int64, None)])
    scores, pointers = g.op("Scan", [score0, e, live, first], outputs=2, hint=f"{hint}_forward", body=graph,
                            num_scan_inputs=3)
    return scores, pointers


def _backtrack(ctx: Context, last: str, pointers: str, hint: str) -> str:
    """Reverse Scan: int64 ``[T, B, 1]``, the tag at each step (the last real tag past a row's end)."""
    g = ctx.g
    body = g.subgraph()
    tag, bp_t = body.fresh("tag"), body.fresh("bp_t")
    tag_prev, tag_out = body.fresh("tag_prev"), body.fresh("tag_out")
    body.op_into("GatherElements", [bp_t, tag], [tag_prev], axis=1)
    body.op_into("Identity", [tag], [tag_out])
    graph = body.graph(f"{hint}_backtrack_step",
                       [GraphBuilder.input(tag, np.int64, None), GraphBuilder.input(bp_t, np.int64, None)],
                       [GraphBuilder.output(tag_prev, np.int64, None), GraphBuilder.output(tag_out, np.int64, None)])
    _, path = g.op("Scan", [last, pointers], outputs=2, hint=f"{hint}_backtrack", body=graph, num_scan_inputs=1,
                   scan_input_directions=[1], scan_output_directions=[1])
    return path


def _zero_float():
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array([0.0], np.float32))

