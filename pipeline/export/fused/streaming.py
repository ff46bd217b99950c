"""Streaming exports: one chunk of steps per call, every recurrent state carried in and out.

A unidirectional RNN can read a sequence a chunk at a time (one token as it is
typed, one audio frame, one sensor reading) if its state travels between calls.
With ``Options.streaming`` each recurrent layer starts from graph inputs and
ends in graph outputs::

    state_in.<layer>.h   float32 [batch, units]   (and .c for an LSTM)  -- zeros start a sequence
    state_out.<layer>.h  float32 [batch, units]   -- feed it back as state_in for the next chunk

A ``StackedRNNCells`` layer has one pair per cell: ``state_in.<layer>.cell<i>.<h|c>``.
Masked steps carry the state as Keras does, so in a batch of streams a stream
with no real step in the chunk (all padding) keeps its state unchanged. A layer
with ``return_sequences=False`` returns its output at every step of the chunk
(a classifier's running decision), so the model's outputs gain a time axis;
rnnx's max/mean ``StatePooling`` carries its running statistics as state
(``state_in.<layer>.count`` and ``.max`` or ``.sum``).

Layers that read other steps than the current one (``Bidirectional``,
``go_backwards``, convolutions and pooling over time, a CRF's Viterbi) are
refused with the reason, before anything is written.

>>> state_names("lstm_1", 2)
['lstm_1.h', 'lstm_1.c']
"""

from __future__ import annotations

import numpy as np

from pipeline.export.fused.values import Value

STATE_IN, STATE_OUT = "state_in", "state_out"


def state_names(prefix: str, states: int) -> list[str]:
    """``<prefix>.h`` (and ``<prefix>.c`` for the second state of an LSTM)."""
    return [f"{prefix}.{k}" for k in ("h", "c")[:states]]


def state_inputs(ctx, prefix: str, states: int, hidden: int) -> list[Value]:
    """Graph inputs ``state_in.<prefix>.<h|c>``, float32 ``[batch, hidden]``."""
    return [ctx.add_input(f"{STATE_IN}.{name}", np.float32, ["batch", hidden]) for name in state_names(prefix, states)]


def state_outputs(ctx, prefix: str, states: list[str], hidden: int) -> None:
    """Graph outputs ``state_out.<prefix>.<h|c>`` holding the final ``states``."""
    for name, state in zip(state_names(prefix, len(states)), states):
        ctx.add_output(f"{STATE_OUT}.{name}", Value(state, rank=2), ["batch", hidden])


def recurrent_streaming_problem(layer) -> str | None:
    """Why recurrent ``layer`` cannot stream, or ``None``."""
    if getattr(layer, "go_backwards", False):
        return "go_backwards reads the sequence from its end; a streaming export reads it forwards, chunk by chunk"
    for node in getattr(layer, "_inbound_nodes", []):
        if node.arguments.kwargs.get("initial_state") is not None or len(node.arguments.args) > 1:
            return ("called with initial_state; a streaming export starts from its state_in inputs (feed that "
                    "state there for the first chunk)")
    return None


def bidirectional_streaming_problem(layer) -> str | None:
    return ("Bidirectional reads the whole sequence backwards too, so no output is final before the sequence ends; "
            "a streaming export needs unidirectional layers")
