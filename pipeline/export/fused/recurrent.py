"""Keras recurrent layers as ONNX ``RNN``/``GRU``/``LSTM`` ops.

Each cell family (``simplernn.py``, ``lstm.py``, ``gru.py``) registers one
function that turns a Keras cell into :class:`CellWeights` (ONNX weight layout,
activations, attributes). This module does the rest for every family:

* one ONNX op per layer, ``sequence_lens`` from the mask (right padding);
* two directions of a ``Bidirectional`` as one ``direction="bidirectional"`` op when
  both halves have the same op and settings (one op reads the input once and
  ONNX Runtime runs both directions in one kernel call), otherwise one op each;
* Keras semantics on top: ``go_backwards`` returns the sequence in reversed time
  order (ONNX ``reverse`` keeps original positions, so the result is flipped),
  ``return_sequences=False`` is the final state ``Y_h`` (forward: the state at the
  last real token; backward: the state after reading the row from its end), and a
  row of length 0 gets Keras's initial zero state.

Example (a plain LSTM layer)::

    out = run(ctx, x, mask, [Direction(cell_weights(layer), reverse=False)], hint="lstm")
    y = out.sequence(0)        # [time, batch, hidden], time-major
    h = out.state(0, 0)        # [batch, hidden]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from pipeline.export.fused.activations import (
    RecurrentActivation, activation_problem, keras_name, recurrent_activation,
)
from pipeline.errors import ExportError
from pipeline.export.fused.context import Context
from pipeline.export.fused.ops import CellWeights, Direction, OpOutputs, emit_op, initial_states  # noqa: F401
from pipeline.export.fused.packing import Packing, pack, pack_mask, unpack
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value


@dataclass(frozen=True)
class CellMapper:
    fn: Callable[[object], CellWeights]
    activation_attrs: tuple[str, ...]


CELLS: dict[type, CellMapper] = {}


def maps_cell(cell_type: type, *, activations: tuple[str, ...]):
    """Register ``fn(cell) -> CellWeights`` for a Keras cell class.

    ``activations`` names the cell attributes holding activation functions, so
    unsupported ones are found before conversion starts.
    """

    def register(fn):
        CELLS[cell_type] = CellMapper(fn, activations)
        return fn

    return register


def recurrent_activations(cell, attrs: tuple[str, ...]) -> tuple[RecurrentActivation, ...]:
    out = []
    for attr in attrs:
        act = recurrent_activation(keras_name(getattr(cell, attr)))
        if act is None:  # rnn_problem() reports it first; this guards direct calls
            raise ValueError(f"{attr} of {cell.name} has no ONNX recurrent equivalent")
        out.append(act)
    return tuple(out)


def cell_weights(layer) -> CellWeights:
    mapper = CELLS[type(layer.cell)]
    return mapper.fn(layer.cell)


def layer_cells(layer) -> list:
    """The cells a recurrent layer runs at each step: one, or those of a ``StackedRNNCells``."""
    import keras

    cell = getattr(layer, "cell", None)
    return list(cell.cells) if isinstance(cell, keras.layers.StackedRNNCells) else [cell]


def stateful_problem(layer) -> str | None:
    """A whole-sequence export cannot hold state between calls; a streaming one can."""
    if getattr(layer, "stateful", False):
        return ("stateful=True carries state between calls; export it with streaming (state_in/state_out), or "
                "rebuild the layer with stateful=False")
    return None


def rnn_problem(layer) -> str | None:
    """Why the recurrent ``layer`` cannot be exported, or ``None``."""
    cells = layer_cells(layer)
    if len(cells) > 1 and layer.return_state:
        return "return_state of a StackedRNNCells (nested states) is not supported; stack RNN layers instead"
    for cell in cells:
        mapper = CELLS.get(type(cell))
        if mapper is None:
            return f"cell {type(cell).__name__} has no converter (custom cells cannot be mapped to ONNX ops)"
        for attr in mapper.activation_attrs:
            why = activation_problem(getattr(cell, attr), recurrent=True)
            if why:
                return f"{attr}: {why}"
    return None


# -- emission ---------------------------------------------------------------------

@dataclass
class RecurrentOut:
    """Outputs of :func:`run`, read per direction or merged.

    With a :class:`~pipeline.export.fused.packing.Packing` (exact masks) the ops ran on
    packed rows; :meth:`sequence` puts their outputs back at the Keras steps.
    """

    ctx: Context
    groups: list[OpOutputs]
    directions: list[Direction] = field(default_factory=list)
    where: list[tuple[int, int]] = field(default_factory=list)  # direction -> (group, index in group)
    packing: Packing | None = None
    mask: Value | None = None     # the mask the ops read (packed rows: their prefix mask)

    def _pick(self, tensor: str, size: int, index: int, axis: int, hint: str) -> str:
        g = self.ctx.g
        if size == 1:
            return g.op("Squeeze", [tensor, g.ints([axis])], hint=hint)
        return g.op("Gather", [tensor, g.const(np.array(index, np.int64), f"idx{index}")], axis=axis, hint=hint)

    def op_sequence(self, d: int) -> str:
        """``[T, B, H]`` outputs of direction ``d`` as the op wrote them (0 past the length)."""
        gi, i = self.where[d]
        grp = self.groups[gi]
        return self.ctx._cached(("seq", grp.Y, i), lambda: self._pick(grp.Y, grp.size, i, 1, "rnn_y"))

    def sequence(self, d: int) -> str:
        """``[T, B, H]`` outputs of direction ``d`` at their original steps.

        Right-padded masks: 0 past the length. Exact masks (packed rows): what Keras
        returns at masked steps (:func:`~pipeline.export.fused.packing.unpack`).
        """
        y = self.op_sequence(d)
        if self.packing is None:
            return y
        direction = self.directions[d]
        carried = direction.initial[0] if self.ctx.options.streaming and direction.initial else None
        return self.ctx._cached(("unpacked", y), lambda: unpack(
            self.ctx, y, self.packing, backward=direction.reverse, zero_masked=direction.zero_masked,
            hint="rnn_y_steps", before_first=carried))

    def last_output(self, d: int) -> str:
        """``[B, H]``: what a Keras layer with ``return_sequences=False`` returns for direction ``d``.

        The final state, except: a row without real steps gives 0 even when the layer
        started from an ``initial_state``; with ``zero_output_for_mask`` the output is 0
        when the last step read (the first for ``go_backwards``) is masked.
        """
        h = self.state(d, 0)
        direction = self.directions[d]
        if self.mask is None:
            return h
        g = self.ctx.g
        zero = g.const(np.float32(0.0), "zero_f")
        if direction.zero_masked:
            steps = self.packing.mask if self.packing is not None else self.ctx.time_major(self.mask).name
            index = g.const(np.array(0 if direction.reverse else -1, np.int64), "idx_edge")
            read = g.op("Unsqueeze", [g.op("Gather", [steps, index], axis=0), g.ints([1])], hint="last_read")
            return g.op("Where", [read, h, zero], hint="rnn_last")
        if direction.initial:
            nonempty = g.op("Unsqueeze", [self.ctx.has_steps(self.mask), g.ints([1])])
            return g.op("Where", [nonempty, h, zero], hint="rnn_last")
        return h

    def state(self, d: int, k: int) -> str:
        """``[B, H]`` final state ``k`` (0 = h, 1 = c) of direction ``d``."""
        gi, i = self.where[d]
        grp = self.groups[gi]
        return self.ctx._cached(("state", grp.states[k], i),
                                lambda: self._pick(grp.states[k], grp.size, i, 0, "rnn_h" if k == 0 else "rnn_c"))

    def single_group(self) -> OpOutputs | None:
        if len(self.groups) == 1 and self.where == [(0, 0), (0, 1)]:
            return self.groups[0]
        return None

    def concat_sequences(self) -> str:
        """``[T, B, 2H]``: forward then backward, as Keras ``concat`` merges them.

        Packed rows whose masked steps are 0 in both directions are put back once,
        after the concatenation.
        """
        g = self.ctx.g
        grp = self.single_group()
        if grp is None:
            return g.op("Concat", [self.sequence(0), self.sequence(1)], axis=-1, hint="rnn_y_cat")
        t = g.op("Transpose", [grp.Y], perm=[0, 2, 1, 3], hint="rnn_y_tbdh")
        y = g.op("Reshape", [t, g.ints([0, 0, -1])], hint="rnn_y_cat")
        if self.packing is None:
            return y
        if all(d.zero_masked for d in self.directions):
            return unpack(self.ctx, y, self.packing, backward=False, zero_masked=True, hint="rnn_y_cat_steps")
        return g.op("Concat", [self.sequence(0), self.sequence(1)], axis=-1, hint="rnn_y_cat")

    def concat_states(self, k: int = 0) -> str:
        g = self.ctx.g
        grp = self.single_group()
        if grp is not None:
            t = g.op("Transpose", [grp.states[k]], perm=[1, 0, 2], hint="rnn_h_bdh")
            return g.op("Reshape", [t, g.ints([0, -1])], hint="rnn_h_cat")
        return g.op("Concat", [self.state(0, k), self.state(1, k)], axis=-1, hint="rnn_h_cat")


def run(ctx: Context, x: Value, mask: Value | None, directions: list[Direction], *, hint: str,
        packing: Packing | None = None) -> RecurrentOut:
    """Emit the recurrent op(s) for ``directions`` over the time-major input ``x``.

    With ``Options.masks == "exact"`` the rows are packed first (any mask: left
    padding, holes); with ``"right"`` the mask must be a right-padded prefix.
    ``packing``: ``x`` is already packed (the next cell of a ``StackedRNNCells``).
    """
    from pipeline.export.fused.scan_rnn import emit_simple_rnn

    x = ctx.time_major(x)
    if packing is not None:
        mask = packing.prefix
    elif mask is not None and ctx.options.masks == "exact":
        packing = pack_mask(ctx, ctx.cast(mask, np.bool_))
        x, mask = pack(ctx, x, packing), packing.prefix
    out = RecurrentOut(ctx, [], list(directions), packing=packing, mask=mask)
    one_op = len(directions) == 2 and not directions[0].reverse and directions[1].reverse and \
        directions[0].cell.fuses_with(directions[1].cell) and \
        bool(directions[0].initial) == bool(directions[1].initial)
    for together in ([directions] if one_op else [[d] for d in directions]):
        simple = together[0].cell.op_type == "RNN"
        if simple and ctx.options.simplernn != "rnn":
            grp = emit_simple_rnn(ctx, x, mask, together, hint=hint)
        else:
            grp = emit_op(ctx, ctx.g, x, mask, together, hint=hint)
        if mask is not None and together[0].initial:
            # rows without real steps keep the state they started from
            nonempty = ctx.g.op("Unsqueeze", [ctx.has_steps(mask), ctx.g.ints([0, 2])])
            grp.states = [ctx.g.op("Where", [nonempty, s, initial_states(ctx, together, k)], hint=f"{hint}_state")
                          for k, s in enumerate(grp.states)]
        elif mask is not None and simple:
            # rows of length 0 ran one step (Context.op_lengths): back to Keras's zero state
            keep = ctx.nonempty(mask)
            grp.states = [ctx.g.op("Mul", [s, keep], hint=f"{hint}_state") for s in grp.states]
        out.where += [(len(out.groups), i) for i in range(len(together))]
        out.groups.append(grp)
    return out


# -- Keras semantics ------------------------------------------------------------------

def reverse_time(ctx: Context, name: str) -> str:
    """Flip a time-major tensor along time (what Keras ``go_backwards`` returns)."""
    g = ctx.g
    return g.op("Slice", [name, g.ints([-1]), g.ints([np.iinfo(np.int64).min]), g.ints([0]), g.ints([-1])],
                hint="reversed")


def keras_outputs(ctx: Context, layer, out: RecurrentOut, d: int, *, flip: bool = False) -> list[Value]:
    """``[output, *states]`` of the Keras recurrent ``layer`` that ran as direction ``d``.

    ``flip`` flips a returned sequence once more (``Bidirectional`` does that to its
    backward half).
    """
    if layer.return_sequences or ctx.options.streaming:  # streaming: the running output at every step
        y = out.sequence(d)
        if layer.go_backwards != flip:
            y = reverse_time(ctx, y)
        first = Value(y, rank=3, time_major=True)
    else:
        first = Value(out.last_output(d), rank=2)
    states = [Value(out.state(d, k), rank=2) for k in range(len(out.groups[out.where[d][0]].states))]
    return [first, *states]


def call_inputs(ctx: Context, layer, args, kwargs) -> tuple[Value, Value | None, list[Value]]:
    """The sequence, mask and initial states (``[]``: zeros) a recurrent layer was called with."""
    if kwargs.get("constants") is not None:
        raise ctx.fail(layer, "constants inputs are not supported")
    initial = kwargs.get("initial_state")
    if initial is None and len(args) > 1:
        initial = args[1]
    if initial is None:
        initial = []
    elif isinstance(initial, Value):
        initial = [initial]
    else:
        initial = list(initial)
    if any(not isinstance(s, Value) or s.rank != 2 for s in initial):
        raise ctx.fail(layer, "initial_state must be Keras tensors of shape [batch, units]")
    mask = kwargs.get("mask")
    if isinstance(mask, (list, tuple)):
        mask = mask[0]
    return args[0], mask if isinstance(mask, Value) else None, [ctx.cast(ctx.keras_layout(s), np.float32)
                                                                 for s in initial]


def direction(layer, initial: list[Value]) -> Direction:
    """The :class:`Direction` of a Keras RNN layer started from ``initial`` (``[]``: zeros)."""
    cell = cell_weights(layer)
    if initial and len(initial) != cell.states:
        raise ExportError(f"layer {layer.name} ({type(layer).__name__}) takes {cell.states} initial state(s), "
                          f"got {len(initial)}")
    return Direction(cell, layer.go_backwards, tuple(v.name for v in initial),
                     bool(getattr(layer, "zero_output_for_mask", False)))


def _rnn_layer_types():
    import keras

    return keras.layers.RNN, keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU


def stacked_cells(ctx: Context, layer, x: Value, mask: Value | None, initial: list[Value]) -> RecurrentOut:
    """``RNN(StackedRNNCells([...]))``: one op per cell, each reading the one below on the same steps.

    Keras runs every cell at each step and skips a masked step in all of them, so the
    packed rows flow from op to op without being put back in between.
    """
    if initial:
        raise ctx.fail(layer, "initial_state of a StackedRNNCells (nested states) is not supported")
    cells = layer_cells(layer)
    out, packing = None, None
    for i, cell in enumerate(cells):
        last = i == len(cells) - 1
        weights = CELLS[type(cell)].fn(cell)
        starts = _stream_states(ctx, f"{layer.name}.cell{i}", weights)
        d = Direction(weights, layer.go_backwards, tuple(v.name for v in starts),
                      zero_masked=last and bool(getattr(layer, "zero_output_for_mask", False)))
        out = run(ctx, x, mask, [d], hint=f"{layer.name}_cell{i}", packing=packing)
        _stream_out(ctx, f"{layer.name}.cell{i}", out, weights)
        packing = out.packing
        x = Value(out.op_sequence(0), rank=3, time_major=True)
    return out


def _stream_states(ctx: Context, prefix: str, weights: CellWeights) -> list[Value]:
    """Streaming: the ``state_in`` inputs a layer (or cell) starts from; otherwise none (zeros)."""
    from pipeline.export.fused.streaming import state_inputs

    return state_inputs(ctx, prefix, weights.states, weights.hidden) if ctx.options.streaming else []


def _stream_out(ctx: Context, prefix: str, out: RecurrentOut, weights: CellWeights) -> None:
    from pipeline.export.fused.streaming import state_outputs

    if ctx.options.streaming:
        state_outputs(ctx, prefix, [out.state(0, k) for k in range(weights.states)], weights.hidden)


def _recurrent_streaming_problem(layer) -> str | None:
    from pipeline.export.fused.streaming import recurrent_streaming_problem

    return recurrent_streaming_problem(layer)


@converts(*_rnn_layer_types(), check=rnn_problem, tensor_kwargs=("initial_state",), batch_check=stateful_problem,
          streaming=_recurrent_streaming_problem)
def recurrent_layer(ctx: Context, layer, args, kwargs):
    x, mask, initial = call_inputs(ctx, layer, args, kwargs)
    if len(layer_cells(layer)) > 1:
        out = stacked_cells(ctx, layer, x, mask, initial)
    else:
        d = direction(layer, initial)
        if ctx.options.streaming:
            d = replace(d, initial=tuple(v.name for v in _stream_states(ctx, layer.name, d.cell)))
        out = run(ctx, x, mask, [d], hint=layer.name)
        _stream_out(ctx, layer.name, out, d.cell)
    outputs = keras_outputs(ctx, layer, out, 0)
    return outputs if layer.return_state else outputs[0]
