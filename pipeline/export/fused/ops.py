"""One ONNX ``RNN``/``GRU``/``LSTM`` op: a layer's weights in ONNX layout, its directions, the node.

:mod:`~pipeline.export.fused.recurrent` decides what to run (packing, directions,
Keras semantics); :mod:`~pipeline.export.fused.scan_rnn` writes a SimpleRNN as a
``Scan`` instead. Both emit through :func:`emit_op`, so neither imports the other.

Example::

    grp = emit_op(ctx, ctx.g, x, mask, [Direction(cell, reverse=False)], hint="lstm")
    grp.Y, grp.states       # [T, D, B, H], [Y_h (, Y_c)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.export.fused.activations import RecurrentActivation, recurrent_attributes
from pipeline.export.fused.context import Context
from pipeline.export.fused.values import Value


@dataclass(frozen=True)
class CellWeights:
    """One direction of a recurrent layer in ONNX layout (``G`` gates)."""

    op_type: str                                   # "RNN" | "GRU" | "LSTM"
    hidden: int
    W: np.ndarray                                  # [G*hidden, input]
    R: np.ndarray                                  # [G*hidden, hidden]
    B: np.ndarray                                  # [2*G*hidden]: input bias, recurrent bias
    activations: tuple[RecurrentActivation, ...]
    attrs: tuple[tuple[str, object], ...] = ()     # e.g. (("linear_before_reset", 1),)
    states: int = 1                                # Keras states per direction (LSTM: h, c)
    activation: str = "tanh"                       # Keras name of the main activation

    def fuses_with(self, other: "CellWeights") -> bool:
        return (self.op_type, self.hidden, self.attrs, self.W.shape[1]) == (
            other.op_type, other.hidden, other.attrs, other.W.shape[1])


@dataclass(frozen=True)
class Direction:
    """One direction of a layer: its weights, whether it reads backwards, what it starts from.

    ``initial``: names of the Keras-layout ``[batch, hidden]`` initial states (h, then
    c for an LSTM), or ``()`` for zeros. ``zero_masked``: the Keras layer's
    ``zero_output_for_mask`` (outputs at masked steps are 0 instead of carried).
    """

    cell: CellWeights
    reverse: bool
    initial: tuple[str, ...] = ()
    zero_masked: bool = False


@dataclass
class OpOutputs:
    """Outputs of one emitted op (or an If/Scan standing in for it), in ONNX layout."""

    Y: str            # [T, D, B, H]
    states: list[str]  # Y_h (and Y_c): [D, B, H]
    size: int


def initial_states(ctx: Context, directions: list[Direction], k: int) -> str:
    """``[D, B, H]``: initial state ``k`` (0 = h, 1 = c) of ``directions``, as ONNX ops read it."""
    g = ctx.g
    parts = [g.op("Unsqueeze", [d.initial[k], g.ints([0])], hint="initial") for d in directions]
    return parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=0, hint="initial")


def op_inputs(ctx: Context, directions: list[Direction], hint: str) -> tuple[list[str], dict]:
    """Initializer names (W, R, B) and attributes for one ONNX recurrent op."""
    g = ctx.g
    cells = [d.cell for d in directions]
    W = g.const(np.stack([c.W for c in cells]), f"{hint}_W")
    R = g.const(np.stack([c.R for c in cells]), f"{hint}_R")
    B = g.const(np.stack([c.B for c in cells]), f"{hint}_B")
    if len(directions) == 2:
        direction = "bidirectional"
    else:
        direction = "reverse" if directions[0].reverse else "forward"
    attrs = dict(cells[0].attrs)
    attrs.update(recurrent_attributes([a for c in cells for a in c.activations]))
    attrs.update(hidden_size=cells[0].hidden, direction=direction)
    return [W, R, B], attrs


def emit_op(ctx: Context, g, x: Value, mask: Value | None, directions: list[Direction], *, hint: str,
            outputs: list[str] | None = None) -> OpOutputs:
    """One ONNX RNN/GRU/LSTM op for ``directions`` (1, or 2 = bidirectional) into builder ``g``."""
    cell = directions[0].cell
    (W, R, B), attrs = op_inputs(ctx, directions, hint)
    lens = ""
    if mask is not None:  # GRU/LSTM kernels handle length 0 (zero outputs and states); RNN's does not
        lens = ctx.op_lengths(mask) if cell.op_type == "RNN" else ctx.lengths(mask)
    inputs = [x.name, W, R, B, lens]
    if directions[0].initial:
        inputs += [initial_states(ctx, directions, k) for k in range(cell.states)]
    n_out = 1 + cell.states
    if outputs is None:
        names = g.op(cell.op_type, inputs, hint=hint, outputs=n_out, **attrs)
    else:
        g.op_into(cell.op_type, inputs, outputs, **attrs)
        names = outputs
    return OpOutputs(names[0], list(names[1:]), len(directions))
