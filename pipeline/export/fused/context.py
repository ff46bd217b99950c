"""State shared by the converters of one export: the graph builder, options, and
cached derived tensors (layouts, sequence lengths from masks).

Masks become lengths. Keras masks are boolean ``[batch, time]`` tensors; ONNX
recurrent ops take ``sequence_lens`` instead. rnnx inputs are right-padded, so the
length of a row is the number of ``True`` entries in its mask::

    >>> from pipeline.export.fused.graph import GraphBuilder
    >>> ctx = Context(GraphBuilder(), Options())
    >>> m = Value("mask", rank=2, dtype=np.bool_)
    >>> ctx.lengths(m) == ctx.lengths(m)       # computed once per mask
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import ExportError
from pipeline.export.fused.graph import GraphBuilder, elem_type
from pipeline.export.fused.values import Value

SIMPLERNN_FORMS = ("auto", "rnn", "scan")
MASK_FORMS = ("exact", "right")


@dataclass(frozen=True)
class Options:
    """How to export.

    ``simplernn``: ``"rnn"`` writes one ONNX ``RNN`` op per layer (no loops at all;
    ONNX Runtime's ``RNN`` kernel applies the activation one element at a time, so it
    is fast for a few rows and slow for many); ``"scan"`` projects the inputs with one
    MatMul and runs only ``h @ R`` + activation per step in a ``Scan``; ``"auto"``
    picks between the two at run time with an ``If`` on the batch size (``RNN`` op
    for batches up to ``simplernn_rnn_max_batch`` rows).

    ``masks``: ``"exact"`` (default) gives Keras's answer for any mask (left
    padding, holes), at every step, by packing each row's real steps to the front
    (:mod:`~pipeline.export.fused.packing`); ``"right"`` promises right-padded
    masks (the rnnx contract): the ops read ``sequence_lens`` directly, and
    padded steps of sequence outputs are 0.

    ``streaming``: the graph reads one chunk of steps and carries every recurrent
    layer's state in and out (``state_in.<layer>.<h|c>`` inputs, ``state_out...``
    outputs; :mod:`~pipeline.export.fused.streaming`).

    ``char_spellings``: character id sequences (most frequent first) whose
    ``CharCNN`` vectors are computed at export into a table; the graph runs the
    convolution only for other tokens (:mod:`~pipeline.export.fused.char_cache`).
    """

    simplernn: str = "auto"
    simplernn_rnn_max_batch: int = 1
    masks: str = "exact"
    streaming: bool = False
    char_spellings: tuple = ()

    def __post_init__(self):
        if self.masks not in MASK_FORMS:
            raise ExportError(f"masks={self.masks!r} is not known; choose one of {', '.join(MASK_FORMS)}")
        if self.simplernn not in SIMPLERNN_FORMS:
            raise ExportError(f"simplernn form {self.simplernn!r} is not known; "
                              f"choose one of {', '.join(SIMPLERNN_FORMS)}")
        if self.simplernn_rnn_max_batch < 0:
            raise ExportError(f"simplernn_rnn_max_batch must be >= 0, got {self.simplernn_rnn_max_batch}")


@dataclass(frozen=True)
class ExtraOutput:
    """A graph output a converter adds beside the model's own (a CRF layer's decoded ``tags``)."""

    name: str
    value: Value
    dims: list


class Context:
    def __init__(self, builder: GraphBuilder, options: Options):
        self.g = builder
        self.options = options
        self.extra_outputs: list[ExtraOutput] = []
        self.extra_inputs: list = []
        self._cache: dict[tuple, object] = {}

    def add_input(self, name: str, dtype, dims: list) -> Value:
        """A graph input besides the model's own (a streaming export's ``state_in...``), as a Value."""
        self.extra_inputs.append(self.g.input(self.g.reserve(name), dtype, list(dims)))
        return Value(name, rank=len(dims), dtype=dtype)

    def add_output(self, name: str, value: Value, dims: list) -> None:
        """Expose ``value`` as graph output ``name`` (written in the Keras layout), e.g. ``tags``."""
        if any(o.name == name for o in self.extra_outputs):
            raise ExportError(f"two layers both want to write the graph output {name!r}")
        self.extra_outputs.append(ExtraOutput(name, value, list(dims)))

    # -- errors ----------------------------------------------------------------
    @staticmethod
    def fail(layer, message: str) -> ExportError:
        """An ExportError that names the layer and its type."""
        return ExportError(f"layer {getattr(layer, 'name', '?')} ({type(layer).__name__}): {message}")

    def sequence(self, layer, x: Value) -> Value:
        """``x``, which ``layer`` reads as a ``[batch, time, channels]`` sequence (else an error naming it)."""
        if x.rank != 3:
            raise self.fail(layer, f"expects a sequence of rank 3 [batch, time, channels], got rank {x.rank}")
        return x

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # -- layouts -----------------------------------------------------------------
    def keras_layout(self, v: Value) -> Value:
        """``v`` with the Keras axis order (transposed once, then cached)."""
        if not v.time_major:
            return v
        perm = [1, 0, *range(2, v.rank)]
        return self._cached(("keras_layout", v.name), lambda: v.renamed(
            self.g.op("Transpose", [v.name], perm=perm, hint=f"{v.name}_bt"), time_major=False))

    def time_major(self, v: Value) -> Value:
        """``v`` as ``[time, batch, ...]`` (for recurrent ops)."""
        if v.time_major:
            return v
        perm = [1, 0, *range(2, v.rank)]
        return self._cached(("time_major", v.name), lambda: v.renamed(
            self.g.op("Transpose", [v.name], perm=perm, hint=f"{v.name}_tb"), time_major=True))

    def same_layout(self, values: list[Value]) -> list[Value]:
        """Bring values that take part in one element-wise op to one layout.

        Scalars broadcast in any layout; a lower-rank non-scalar operand broadcasts
        from the right, so it only fits the Keras layout.
        """
        ranked = [v for v in values if v.rank >= 2]
        want_time_major = bool(ranked) and all(v.time_major for v in ranked) and all(
            v.rank == 0 or v.rank >= 2 for v in values)
        out = []
        for v in values:
            if v.rank < 2:
                out.append(v)
            else:
                out.append(self.time_major(v) if want_time_major else self.keras_layout(v))
        return out

    def cast(self, v: Value, dtype) -> Value:
        if np.dtype(v.dtype) == np.dtype(dtype):
            return v
        return self._cached(("cast", v.name, np.dtype(dtype).str), lambda: v.renamed(
            self.g.op("Cast", [v.name], to=elem_type(dtype), hint=f"{v.name}_cast"), dtype=dtype))

    # -- masks -----------------------------------------------------------------
    def lengths(self, mask: Value) -> str:
        """int32 ``[batch]``: the number of unmasked steps per row."""
        def make():
            time_axis = 0 if mask.time_major else 1
            as_int = self.g.op("Cast", [mask.name], to=elem_type(np.int32), hint="mask_int")
            return self.g.op("ReduceSum", [as_int, self.g.ints([time_axis])], keepdims=0, hint="seq_lens")
        return self._cached(("lengths", mask.name), make)

    def seed_lengths(self, mask: Value, lengths: str) -> None:
        """Record ``lengths`` (int32 ``[batch]``) as the lengths of ``mask``, already computed."""
        self._cache[("lengths", mask.name)] = lengths

    def has_steps(self, mask: Value) -> str:
        """bool ``[batch]``: rows with at least one unmasked step."""
        return self._cached(("has_steps", mask.name), lambda: self.g.op(
            "Greater", [self.lengths(mask), self.g.const(np.array(0, np.int32), "zero_i32")], hint="has_steps"))

    def op_lengths(self, mask: Value) -> str:
        """Lengths for the ONNX ``RNN`` op: at least 1.

        ONNX Runtime's ``RNN`` kernel reads ``Y[len - 1]`` for the final state, out of
        bounds for ``len == 0``. Rows of length 0 run one step instead and
        :meth:`nonempty` zeroes the state that step produced. (The ``GRU``/``LSTM``
        kernels give zero outputs and states for length 0 themselves; the tests
        check both.)
        """
        return self._cached(("op_lengths", mask.name), lambda: self.g.op(
            "Max", [self.lengths(mask), self.g.const(np.array(1, np.int32), "one_i32")], hint="op_seq_lens"))

    def nonempty(self, mask: Value) -> str:
        """float32 ``[1, batch, 1]``: 1 for rows with at least one step, else 0.

        Broadcasts over ONNX ``Y_h``/``Y_c`` (``[directions, batch, hidden]``).
        """
        def make():
            as_float = self.g.op("Cast", [self.has_steps(mask)], to=elem_type(np.float32))
            return self.g.op("Reshape", [as_float, self.g.ints([1, -1, 1])], hint="nonempty")
        return self._cached(("nonempty", mask.name), make)

    def step_mask(self, mask: Value) -> str:
        """bool ``[time, batch, 1]``: the mask as a Scan reads it, one step at a time."""
        def make():
            tm = self.time_major(mask) if mask.rank == 2 else mask
            return self.g.op("Unsqueeze", [tm.name, self.g.ints([2])], hint="step_mask")
        return self._cached(("step_mask", mask.name), make)

    def zero_padding(self, v: Value, mask: Value) -> Value:
        """``v`` (a 3-D sequence) with the steps the mask excludes set to 0."""
        m = self.time_major(mask) if v.time_major else self.keras_layout(mask)
        keep = self.g.op("Unsqueeze", [m.name, self.g.ints([2])], hint="keep")
        return v.renamed(self.g.op("Where", [keep, v.name, self.g.const(np.float32(0.0), "zero_f")], hint="masked"))
