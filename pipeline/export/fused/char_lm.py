"""rnnx's ``WordBoundaryStates`` (``pipeline/models/char_lm.py``): character-LM states at each token's boundaries.

The character LM before it is a Keras ``Bidirectional(LSTM, merge_mode=None)``
over ``lm_chars``: the fused exporter writes it as one ONNX ``LSTM`` op with
``direction="bidirectional"`` over the sentence's characters (``sequence_lens``
from the padding). Its two outputs arrive here time-major, ``[L, batch, H]``;
this layer picks, for every token, the forward state at its last character and
the backward state at its first, with one ``Gather`` each on the flattened
states (no transpose of the ``[L, batch, H]`` tensors)::

    Flatten(states, axis=2)                       [L * batch, H]
    row = position * batch + b                    (time-major; b * L + position in Keras layout)
    Gather(rows)                                  [batch, time, H]
    Concat(forward at ends, backward at starts)   [batch, time, 2H]
    Where(starts > 0, ., 0)                       padding tokens are 0, as in Keras

Example::

    _, features = lm_word_features(LMShape(num_chars=80, units=128))   # -> LSTM(bidirectional), 2 Gathers
"""

from __future__ import annotations

import numpy as np

from pipeline.export.fused.context import Context
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value
from pipeline.models.char_lm import WordBoundaryStates


@converts(WordBoundaryStates)
def word_boundary_states(ctx: Context, layer, args, kwargs):
    forward, backward, starts, ends = args[0]
    g = ctx.g
    starts, ends = (ctx.cast(ctx.keras_layout(v), np.int64) for v in (starts, ends))
    batch = g.op("Slice", [g.op("Shape", [starts.name]), g.ints([0], "start"), g.ints([1], "end")])
    rows = g.op("Unsqueeze", [g.op("Range", [g.const(np.array(0, np.int64), "zero_i64"),
                                              g.op("Squeeze", [batch, g.ints([0])]),
                                              g.const(np.array(1, np.int64), "one_i64")]), g.ints([1])])  # [B, 1]
    picked = []
    for states, where, part in ((forward, ends, "forward"), (backward, starts, "backward")):
        if states.rank != 3:
            raise ctx.fail(layer, f"reads LM states of rank 3 [batch, chars, units], got rank {states.rank}")
        if states.time_major:  # row t * B + b of [L * B, H]
            index = g.op("Add", [g.op("Mul", [where.name, batch]), rows])
        else:                  # row b * L + t of [B * L, H]
            length = g.op("Slice", [g.op("Shape", [states.name]), g.ints([1], "start"), g.ints([2], "end")])
            index = g.op("Add", [g.op("Mul", [rows, length]), where.name])
        flat = g.op("Flatten", [states.name], axis=2, hint=f"{layer.name}_{part}_flat")
        picked.append(g.op("Gather", [flat, index], axis=0, hint=f"{layer.name}_{part}"))
    both = g.op("Concat", picked, axis=-1, hint=f"{layer.name}_concat")
    real = g.op("Unsqueeze", [g.op("Greater", [starts.name, g.const(np.array(0, np.int64), "zero_i64")]),
                              g.ints([2])])
    return Value(g.op("Where", [real, both, g.const(np.float32(0.0), "zero_f")], hint=layer.name), rank=3)
