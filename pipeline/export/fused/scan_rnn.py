"""How a SimpleRNN layer's recurrence is written: ``RNN`` op, ``Scan``, or both behind an ``If``.

ONNX Runtime's ``RNN`` kernel does its matrix products with MLAS but applies the
activation through a per-element ``std::function`` call, so its cost grows with
``batch x units`` much faster than the products do. Measured (ORT 1.32, 1 thread,
SimpleRNN tagger with 100-dim embeddings, 128 units, 25 tokens; whole model):

=========  ==========  ===============  ==========================
batch      ``RNN`` op  ``Scan`` (below)  tf2onnx (a ``Loop``)
=========  ==========  ===============  ==========================
1          0.06 ms     0.10 ms          0.27 ms
2          0.12 ms     0.12 ms
32         1.7 ms      0.75 ms          1.1 ms
=========  ==========  ===============  ==========================

Emulating the Elman cell with the ``GRU``/``LSTM`` kernels (which vectorize their
activations; update gate pinned to 0, reset gate to 1) triples or quadruples the
matrix work and was slower than both. So the large-batch form is: the input
projection of all steps as one ``MatMul``, then a ``Scan`` whose body is only
``Gemm(h, R, p_t)``, the activation and the mask ``Where``.

``Options.simplernn`` chooses:

* ``"rnn"``: one ``RNN`` op per layer (no ``Loop``/``Scan``/``If`` anywhere);
* ``"scan"``: the MatMul + ``Scan`` form;
* ``"auto"`` (default): an ``If`` on the batch size: the ``RNN`` op for batches of
  up to ``simplernn_rnn_max_batch`` rows (default 1, the measured crossover), the
  ``Scan`` form above that.

Every form yields the ONNX ``RNN`` outputs ``Y [T, D, B, H]`` (0 past each row's
length) and ``Y_h [D, B, H]``, so the layer code in ``recurrent.py`` does not care.
"""

from __future__ import annotations

import numpy as np

from pipeline.export.fused.activations import node_activation
from pipeline.export.fused.context import Context
from pipeline.export.fused.graph import GraphBuilder
from pipeline.export.fused.ops import OpOutputs, emit_op
from pipeline.export.fused.values import Value


def emit_simple_rnn(ctx: Context, x: Value, mask: Value | None, directions, *, hint: str):

    if ctx.options.simplernn == "scan":
        return _scan(ctx, ctx.g, x, mask, directions, hint=hint)
    g = ctx.g
    batch = g.op("Gather", [g.op("Shape", [x.name], hint="x_shape"), g.ints([1])], axis=0, hint="batch")
    small = g.op("LessOrEqual", [batch, g.ints([ctx.options.simplernn_rnn_max_batch], "max_rnn_batch")],
                 hint=f"{hint}_small_batch")

    then = g.subgraph()
    outs = [then.fresh(f"{hint}_rnn_Y"), then.fresh(f"{hint}_rnn_Y_h")]
    emit_op(ctx, then, x, mask, directions, hint=hint, outputs=outs)
    then_graph = then.graph(f"{hint}_rnn_op", [], [GraphBuilder.output(n, np.float32, None) for n in outs])

    other = g.subgraph()
    grp = _scan(ctx, other, x, mask, directions, hint=hint)
    else_graph = other.graph(f"{hint}_scan", [], [GraphBuilder.output(n, np.float32, None)
                                                  for n in (grp.Y, grp.states[0])])
    Y, Y_h = g.op("If", [small], outputs=2, hint=hint, then_branch=then_graph, else_branch=else_graph)
    return OpOutputs(Y, [Y_h], len(directions))


def _scan(ctx: Context, g: GraphBuilder, x: Value, mask: Value | None, directions, *, hint: str):
    """Input projection as one MatMul, then a Scan over ``h @ R`` for every direction."""

    cells = [d.cell for d in directions]
    hidden = cells[0].hidden
    kernel = np.concatenate([c.W.T for c in cells], axis=1)           # [input, D*H]
    bias = np.concatenate([c.B[:hidden] + c.B[hidden:] for c in cells])  # Wb + Rb
    proj = g.op("Add", [g.op("MatMul", [x.name, ctx.g.const(kernel, f"{hint}_kernel")]),
                        ctx.g.const(bias, f"{hint}_bias")], hint=f"{hint}_proj")     # [T, B, D*H]
    parts = [proj] if len(cells) == 1 else g.op(
        "Split", [proj, ctx.g.ints([hidden] * len(cells), "split")], axis=2, outputs=len(cells), hint=f"{hint}_proj")

    batch = g.op("Gather", [g.op("Shape", [x.name]), ctx.g.ints([1])], axis=0)
    zeros = g.op("ConstantOfShape", [g.op("Concat", [batch, ctx.g.ints([hidden], "hidden")], axis=0)],
                 value=_float_tensor(0.0), hint=f"{hint}_h0")
    starts = [d.initial[0] if d.initial else zeros for d in directions]
    step_mask = ctx.step_mask(mask) if mask is not None else None

    body = g.subgraph()
    state_in, scan_in, state_out, seq_out = [], [], [], []
    scan_inputs, directions_in = [], []
    for i, (d, cell) in enumerate(zip(directions, cells)):
        reverse = 1 if d.reverse else 0
        h_prev, p_t = body.fresh(f"h{i}_prev"), body.fresh(f"p{i}_t")
        state_in.append(GraphBuilder.input(h_prev, np.float32, None))
        scan_in.append(GraphBuilder.input(p_t, np.float32, None))
        scan_inputs.append(parts[i])
        directions_in.append(reverse)
        recurrent = ctx.g.const(np.ascontiguousarray(cell.R.T), f"{hint}_recurrent{i}")
        act = node_activation(cell.activation)(body, body.op("Gemm", [h_prev, recurrent, p_t]))
        h_next, y_t = body.fresh(f"h{i}_next"), body.fresh(f"y{i}_t")
        if step_mask is None:
            body.op_into("Identity", [act], [h_next])
        else:
            m_t = body.fresh(f"m{i}_t")
            scan_in.append(GraphBuilder.input(m_t, np.bool_, None))
            scan_inputs.append(step_mask)
            directions_in.append(reverse)
            body.op_into("Where", [m_t, act, h_prev], [h_next])
        body.op_into("Identity", [h_next], [y_t])
        state_out.append(GraphBuilder.output(h_next, np.float32, None))
        seq_out.append(GraphBuilder.output(y_t, np.float32, None))
    graph = body.graph(f"{hint}_step", state_in + scan_in, state_out + seq_out)
    n = len(cells)
    outs = g.op("Scan", starts + scan_inputs, outputs=2 * n, hint=f"{hint}_scan", body=graph,
                num_scan_inputs=len(scan_inputs), scan_input_directions=directions_in,
                scan_output_directions=[1 if d.reverse else 0 for d in directions])
    finals, seqs = outs[:n], outs[n:]
    if mask is not None:  # steps past a row's length: 0, as ONNX recurrent ops write them
        keep = ctx.step_mask(mask)
        zero = ctx.g.const(np.float32(0.0), "zero_f")
        seqs = [g.op("Where", [keep, s, zero], hint=f"{hint}_y") for s in seqs]
    Y = [g.op("Unsqueeze", [s, ctx.g.ints([1])], hint=f"{hint}_Y") for s in seqs]
    Y_h = [g.op("Unsqueeze", [h, ctx.g.ints([0])], hint=f"{hint}_Y_h") for h in finals]
    if n > 1:
        Y = [g.op("Concat", Y, axis=1, hint=f"{hint}_Y")]
        Y_h = [g.op("Concat", Y_h, axis=0, hint=f"{hint}_Y_h")]
    return OpOutputs(Y[0], [Y_h[0]], n)


def _float_tensor(value: float):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array([value], np.float32))
