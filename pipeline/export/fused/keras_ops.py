"""Keras operations that appear in the model graph next to the layers.

Keras 3 writes the mask computation into the functional graph: an Embedding with
``mask_zero=True`` adds ``not_equal(ids, 0)``; ``Masking`` adds
``any(not_equal(x, v), axis=-1)``; ``Concatenate`` combines masks with
``expand_dims``, ``logical_or``, ``zeros_like``, ``concatenate`` and ``any``. The
recurrent layers then receive the mask as their ``mask=`` argument. Converting
these ops like any other keeps the exporter exact for every mask Keras can build.

The op classes live in ``keras.src.ops`` (not public API); each is looked up by
name, so one missing in some Keras version is simply not covered.

>>> from pipeline.export.fused.registry import find
>>> import keras
>>> ids = keras.Input((None,), dtype="int64")
>>> type(keras.ops.not_equal(ids, 0)._keras_history[0]).__name__
'NotEqual'
"""

from __future__ import annotations

import numpy as np
from keras.src.ops import core as _core
from keras.src.ops import numpy as _knp

from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import elem_type
from pipeline.export.fused.merge import concatenate
from pipeline.export.fused.registry import converts
from pipeline.export.fused.values import Value


def _op(module, name):
    return getattr(module, name, None)


def _np_dtype(keras_dtype, default):
    if keras_dtype is None:
        return default
    name = str(getattr(keras_dtype, "name", keras_dtype))
    if name in ("float16", "bfloat16", "float64"):
        return np.float32
    return np.dtype(name).type


def _operand(ctx: Context, x, like: Value) -> Value:
    """A Value for ``x``; Python numbers become constants of ``like``'s dtype."""
    if isinstance(x, Value):
        return x
    return Value(ctx.g.const(np.array(x, dtype=like.dtype), "scalar"), rank=np.ndim(x), dtype=like.dtype)


def _binary(onnx_ops: list[str], out_dtype=None):
    def convert(ctx: Context, op, args, kwargs):
        like = next(a for a in args[:2] if isinstance(a, Value))
        a, b = ctx.same_layout([_operand(ctx, args[0], like), _operand(ctx, args[1], like)])
        if np.dtype(a.dtype) != np.dtype(b.dtype):
            b = ctx.cast(b, a.dtype)
        name = ctx.g.op(onnx_ops[0], [a.name, b.name], hint=op.name)
        for extra in onnx_ops[1:]:
            name = ctx.g.op(extra, [name], hint=op.name)
        big = a if a.rank >= b.rank else b
        return big.renamed(name, dtype=out_dtype or big.dtype)
    return convert


converts(_op(_knp, "NotEqual"), streaming=True)(_binary(["Equal", "Not"], np.bool_))
converts(_op(_knp, "Equal"), streaming=True)(_binary(["Equal"], np.bool_))
converts(_op(_knp, "LogicalOr"), streaming=True)(_binary(["Or"], np.bool_))
converts(_op(_knp, "LogicalAnd"), streaming=True)(_binary(["And"], np.bool_))
converts(_op(_knp, "Greater"), streaming=True)(_binary(["Greater"], np.bool_))  # WordBoundaryStates' mask
converts(_op(_knp, "Less"), streaming=True)(_binary(["Less"], np.bool_))


@converts(_op(_knp, "LogicalNot"), streaming=True)
def logical_not(ctx: Context, op, args, kwargs):
    return args[0].renamed(ctx.g.op("Not", [args[0].name], hint=op.name))


def _over_time_problem(op) -> str | None:
    """Streaming: an op over the time axis (1, or every axis) reads other steps of the chunk."""
    axis = getattr(op, "axis", None)
    axes = [axis] if isinstance(axis, int) else list(axis) if axis is not None else None
    for node in getattr(op, "_inbound_nodes", []):
        first = node.input_tensors[0] if node.input_tensors else None
        rank = len(first.shape) + (1 if type(op).__name__ == "ExpandDims" else 0) if first is not None else 3
        if axes is None or any((a + rank if a < 0 else a) == 1 for a in axes):
            return "works across the time axis; a streaming export reads one chunk of steps at a time"
    return None


def _axes(op, rank: int) -> list[int]:
    axis = getattr(op, "axis", None)
    if axis is None:
        return list(range(rank))
    axis = [axis] if isinstance(axis, int) else list(axis)
    return sorted(a + rank if a < 0 else a for a in axis)


def _any(ctx: Context, x: Value, op, negate: bool) -> Value:
    g = ctx.g
    axes = _axes(op, x.rank)
    if x.time_major and any(a in (0, 1) for a in axes):
        x = ctx.keras_layout(x)
    src = g.op("Not", [x.name]) if negate else x.name
    count = g.op("ReduceSum", [g.op("Cast", [src], to=elem_type(np.int32)), g.ints([x.onnx_axis(a) for a in axes])],
                 keepdims=int(bool(op.keepdims)))
    name = g.op("Greater", [count, g.const(np.array(0, np.int32), "zero_i32")], hint=op.name)
    if negate:
        name = g.op("Not", [name], hint=op.name)
    rank = x.rank if op.keepdims else x.rank - len(axes)
    return Value(name, rank=rank, time_major=x.time_major and rank >= 2, dtype=np.bool_)


@converts(_op(_knp, "Any"), streaming=lambda op: _over_time_problem(op))
def any_(ctx: Context, op, args, kwargs):
    return _any(ctx, args[0], op, negate=False)


@converts(_op(_knp, "All"), streaming=lambda op: _over_time_problem(op))
def all_(ctx: Context, op, args, kwargs):
    return _any(ctx, args[0], op, negate=True)


@converts(_op(_knp, "ExpandDims"), streaming=True)
def expand_dims(ctx: Context, op, args, kwargs):
    x = args[0]
    axes = [op.axis] if isinstance(op.axis, int) else list(op.axis)
    out_rank = x.rank + len(axes)
    axes = sorted(a + out_rank if a < 0 else a for a in axes)
    if x.time_major and min(axes) <= 1:
        x = ctx.keras_layout(x)
    name = ctx.g.op("Unsqueeze", [x.name, ctx.g.ints(axes)], hint=op.name)
    return Value(name, rank=out_rank, time_major=x.time_major, dtype=x.dtype)


@converts(_op(_knp, "Squeeze"), streaming=lambda op: _over_time_problem(op))
def squeeze(ctx: Context, op, args, kwargs):
    x = args[0]
    if op.axis is None:
        raise ctx.fail(op, "squeeze without an axis is not supported (the result's rank depends on the data)")
    axes = _axes(op, x.rank)
    if x.time_major and min(axes) <= 1:
        x = ctx.keras_layout(x)
    name = ctx.g.op("Squeeze", [x.name, ctx.g.ints([x.onnx_axis(a) for a in axes])], hint=op.name)
    rank = x.rank - len(axes)
    return Value(name, rank=rank, time_major=x.time_major and rank >= 2, dtype=x.dtype)


def _filled(value: float):
    def convert(ctx: Context, op, args, kwargs):
        from onnx import numpy_helper

        x = args[0]
        dtype = _np_dtype(getattr(op, "dtype", None), x.dtype)
        shape = ctx.g.op("Shape", [x.name])
        name = ctx.g.op("ConstantOfShape", [shape], value=numpy_helper.from_array(np.array([value], dtype)),
                        hint=op.name)
        return x.renamed(name, dtype=dtype)
    return convert


converts(_op(_knp, "ZerosLike"), streaming=True)(_filled(0))
converts(_op(_knp, "OnesLike"), streaming=True)(_filled(1))


@converts(_op(_knp, "Concatenate"), streaming=lambda op: _over_time_problem(op))
def concatenate_op(ctx: Context, op, args, kwargs):
    return concatenate(ctx, args[0], op.axis, hint=op.name)


@converts(_op(_core, "Cast"), streaming=True)
def cast(ctx: Context, op, args, kwargs):
    return ctx.cast(args[0], _np_dtype(op.dtype, args[0].dtype))
