"""Keras ``Bidirectional`` -> one ONNX op with ``direction="bidirectional"`` (or two ops).

When the forward and backward layers have the same cell type, size and settings
(always, unless a custom ``backward_layer`` was given), both directions run in
one op: the input is read once and both halves come out of one kernel call. A
``concat`` merge then needs one transpose of ``Y [T, 2, B, H]``. Other pairs run as
two ops. Every ``merge_mode`` is covered; ``merge_mode=None`` gives the layer two
outputs (forward, backward), as in Keras.

Keras flips the backward layer's returned sequence back to the original time
order; with the usual ``go_backwards=True`` backward layer that flip and the
``go_backwards`` flip cancel, so no reversal is written.

Example::

    x = keras.layers.Bidirectional(keras.layers.GRU(64, return_sequences=True), merge_mode="sum")(x)
"""

from __future__ import annotations

import keras

from pipeline.export.fused.context import Context
from pipeline.export.fused.recurrent import (
    call_inputs, direction, keras_outputs, layer_cells, rnn_problem, run, stateful_problem,
)
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value


def bidirectional_problem(layer) -> str | None:
    for part in (layer.forward_layer, layer.backward_layer):
        why = rnn_problem(part) or (len(layer_cells(part)) > 1 and
                                    "a StackedRNNCells inside Bidirectional is not supported; stack Bidirectional "
                                    "layers instead")
        if why:
            return f"{part.name}: {why}"
    return None


def _merge(ctx: Context, mode: str, a: Value, b: Value, hint: str) -> Value:
    g = ctx.g
    a, b = ctx.same_layout([a, b])
    if mode == "concat":
        name = g.op("Concat", [a.name, b.name], axis=-1, hint=hint)
    elif mode == "sum":
        name = g.op("Add", [a.name, b.name], hint=hint)
    elif mode == "mul":
        name = g.op("Mul", [a.name, b.name], hint=hint)
    elif mode == "ave":
        import numpy as np

        name = g.op("Div", [g.op("Add", [a.name, b.name]), g.const(np.float32(2.0), "two_f")], hint=hint)
    else:
        raise ValueError(f"merge_mode {mode!r}")
    return a.renamed(name)


def _streaming_problem(layer) -> str | None:
    from pipeline.export.fused.streaming import bidirectional_streaming_problem

    return bidirectional_streaming_problem(layer)


@converts(keras.layers.Bidirectional, check=bidirectional_problem, tensor_kwargs=("initial_state",),
          batch_check=lambda layer: stateful_problem(layer.forward_layer), streaming=_streaming_problem)
def bidirectional(ctx: Context, layer, args, kwargs):
    x, mask, initial = call_inputs(ctx, layer, args, kwargs)
    fwd, bwd = layer.forward_layer, layer.backward_layer
    half = len(initial) // 2  # Keras: the first half starts the forward layer, the rest the backward one
    out = run(ctx, x, mask, [direction(fwd, initial[:half]), direction(bwd, initial[half:])], hint=layer.name)
    seqs = layer.return_sequences
    y, *fwd_states = keras_outputs(ctx, fwd, out, 0)
    y_rev, *bwd_states = keras_outputs(ctx, bwd, out, 1, flip=seqs)
    mode = layer.merge_mode
    if mode is None:
        merged = [y, y_rev]
    elif mode == "concat" and out.single_group() is not None and not fwd.go_backwards and bwd.go_backwards:
        merged = [Value(out.concat_sequences(), rank=3, time_major=True) if seqs
                  else Value(out.concat_states(), rank=2)]
    else:
        merged = [_merge(ctx, mode, y, y_rev, hint=f"{layer.name}_{mode}")]
    if layer.return_state:
        return merged + fwd_states + bwd_states
    return merged if mode is None else merged[0]
