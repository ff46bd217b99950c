"""Exact masks of any shape for ONNX recurrent ops: pack the real steps to the front, unpack after.

ONNX ``RNN``/``GRU``/``LSTM`` read a row's first ``sequence_lens`` steps, so they
express right padding only. Keras skips masked steps *wherever they are* (left
padding from ``keras.utils.pad_sequences``, holes) and carries the state through
them. Running the op on the real steps moved to the front gives Keras's states
exactly; this module writes that move and its inverse (time-major, ``[T, B, ...]``)::

    m      = mask as int                        [T, B]
    cs     = CumSum(m, time)                    real steps up to and including t
    dest   = m ? cs - 1 : lens + CumSum(1 - m) - 1   where step t goes (a permutation)
    src    = ScatterElements(0, dest, t)         which step lands at packed position j
    packed = Gather(x as [T*B, F], src * B + b)  the real steps first, in order

A row's packed position ``cs[t] - 1`` is its last real step at or before ``t``, so
one gather with that index both puts the outputs back and reproduces what Keras
returns at masked steps:

* forward, ``zero_output_for_mask=False``: the output of the last real step before
  (0 before the first one): index ``cs - 1``, valid when ``>= 0``;
* backward (``go_backwards``): the output of the next real step after: index
  ``cs - m``, valid when ``< lens``;
* ``zero_output_for_mask=True`` (what ``Bidirectional`` sets when it returns
  sequences): 0 at every masked step.

>>> import numpy as np
>>> m = np.array([[0, 1, 0, 1, 1]]).T        # one row: a hole, left padding
>>> cs = m.cumsum(0); lens = m.sum(0)
>>> dest = np.where(m, cs - 1, lens + (1 - m).cumsum(0) - 1)
>>> src = np.zeros_like(dest); np.put_along_axis(src, dest, np.arange(5)[:, None], 0)
>>> src[:, 0].tolist(), (cs - 1)[:, 0].tolist()
([1, 3, 4, 0, 2], [-1, 0, 0, 1, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.values import Value


@dataclass(frozen=True)
class Packing:
    """The tensors of one mask's packing (time-major ``[T, B]`` int64 unless noted)."""

    mask: str          # bool [T, B]
    cumsum: str        # real steps up to and including t
    real: str          # the mask as int64
    lens: str          # int32 [B]
    flat_src: str      # src * B + b: rows of the [T*B, F] view to gather
    batch: str         # int64 [1]: B
    b_idx: str         # int64 [B]: 0 .. B-1
    last_step: str     # int64 [1]: T - 1
    prefix: Value      # bool [T, B] time-major: t < lens (the mask of the packed rows)


def pack_mask(ctx, mask: Value) -> Packing:
    """The packing of ``mask`` (written once per mask and cached)."""
    def make():
        g = ctx.g
        m_b = ctx.time_major(mask).name
        real = g.op("Cast", [m_b], to=elem_type(np.int64), hint="mask_i64")
        zero = g.const(np.array(0, np.int64), "zero_i64")
        one = g.const(np.array(1, np.int64), "one_i64")
        cumsum = g.op("CumSum", [real, zero], hint="mask_cumsum")
        lens64 = g.op("ReduceSum", [real, g.ints([0])], keepdims=1, hint="mask_lens")     # [1, B]
        holes = g.op("CumSum", [g.op("Sub", [one, real]), zero], hint="hole_cumsum")
        dest = g.op("Where", [m_b, g.op("Sub", [cumsum, one]),
                              g.op("Sub", [g.op("Add", [lens64, holes]), one])], hint="pack_dest")
        shape = g.op("Shape", [real], hint="mask_shape")
        steps = g.op("Gather", [shape, g.ints([0])], axis=0, hint="steps")
        batch = g.op("Gather", [shape, g.ints([1])], axis=0, hint="batch_n")
        t_idx = g.op("Range", [zero, g.op("Squeeze", [steps, g.ints([0])]), one], hint="t_idx")
        b_idx = g.op("Range", [zero, g.op("Squeeze", [batch, g.ints([0])]), one], hint="b_idx")
        t_grid = g.op("Expand", [g.op("Unsqueeze", [t_idx, g.ints([1])]), shape], hint="t_grid")
        src = g.op("ScatterElements", [g.op("ConstantOfShape", [shape], value=_int64(0)), dest, t_grid],
                   axis=0, hint="pack_src")
        flat_src = g.op("Add", [g.op("Mul", [src, batch]), b_idx], hint="pack_rows")
        lens = g.op("Cast", [g.op("Squeeze", [lens64, g.ints([0])])], to=elem_type(np.int32), hint="seq_lens")
        prefix = Value(g.op("Less", [t_grid, lens64], hint="packed_mask"), rank=2, time_major=True, dtype=np.bool_)
        packing = Packing(m_b, cumsum, real, lens, flat_src, batch, b_idx, g.op("Sub", [steps, one]), prefix)
        ctx.seed_lengths(prefix, lens)
        return packing
    return ctx._cached(("packing", mask.name), make)


def _rows(ctx, x: str, flat_index: str, hint: str) -> str:
    """``x [T, B, F]`` viewed as ``[T*B, F]`` rows, gathered by ``flat_index [T, B]`` -> ``[T, B, F]``."""
    g = ctx.g
    return g.op("Gather", [g.op("Flatten", [x], axis=2, hint=f"{hint}_rows"), flat_index], axis=0, hint=hint)


def pack(ctx, x: Value, packing: Packing) -> Value:
    """Time-major ``x [T, B, F]`` with each row's real steps first (then its masked steps)."""
    tm = ctx.time_major(x)
    if tm.rank != 3:
        raise ValueError(f"recurrent inputs are [batch, time, features]; got rank {tm.rank}")
    return ctx._cached(("packed", tm.name, packing.mask), lambda: tm.renamed(
        _rows(ctx, tm.name, packing.flat_src, hint=f"{tm.name}_packed")))


def _unpack_index(ctx, packing: Packing, backward: bool, zero_masked: bool) -> tuple[str, str]:
    """``(rows, valid)``: which packed row each step reads, and where that is defined (else 0)."""
    def make():
        g = ctx.g
        one = g.const(np.array(1, np.int64), "one_i64")
        zero = g.const(np.array(0, np.int64), "zero_i64")
        if backward and not zero_masked:
            index = g.op("Sub", [packing.cumsum, packing.real], hint="next_real")
            valid = g.op("Less", [index, g.op("Cast", [packing.lens], to=elem_type(np.int64))], hint="has_next")
        else:
            index = g.op("Sub", [packing.cumsum, one], hint="last_real")
            valid = packing.mask if zero_masked else g.op("GreaterOrEqual", [index, zero], hint="has_last")
        clipped = g.op("Min", [g.op("Max", [index, zero]), packing.last_step], hint="unpack_step")
        rows = g.op("Add", [g.op("Mul", [clipped, packing.batch]), packing.b_idx], hint="unpack_rows")
        return rows, g.op("Unsqueeze", [valid, g.ints([2])], hint="unpack_keep")
    return ctx._cached(("unpack", packing.mask, backward and not zero_masked, zero_masked), make)


def unpack(ctx, y: str, packing: Packing, *, backward: bool, zero_masked: bool, hint: str,
           before_first: str | None = None) -> str:
    """Packed outputs ``y [T, B, H]`` back at their steps, with what Keras returns at masked steps.

    ``before_first`` (``[B, H]``): what a forward layer returns at masked steps before
    its first real one (default 0; a streaming chunk carries the previous chunk's output).
    """
    rows, keep = _unpack_index(ctx, packing, backward, zero_masked)
    fill = before_first if before_first is not None and not zero_masked and not backward else \
        ctx.g.const(np.float32(0.0), "zero_f")
    return ctx.g.op("Where", [keep, _rows(ctx, y, rows, hint=hint), fill], hint=hint)


def _int64(value: int):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array([value], np.int64))
