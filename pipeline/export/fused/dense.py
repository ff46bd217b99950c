"""Keras ``Dense``, ``Activation`` and ``TimeDistributed`` (of per-step layers).

``Dense`` on a 3-D input multiplies the last axis, so it works in either layout
(``MatMul`` broadcasts over the leading axes): a tagger's softmax layer runs on the
time-major RNN output and the model transposes only its small output at the end.

>>> sorted(NODE_ACTIVATIONS)[:4]
['elu', 'exponential', 'hard_sigmoid', 'hard_silu']
"""

from __future__ import annotations

import keras

from pipeline.export.fused.activations import NODE_ACTIVATIONS, activation_problem, keras_name, node_activation
from pipeline.export.fused.context import Context
from pipeline.export.fused.registry import converts, find
from pipeline.export.fused.weights import quantized_problem, weights


def dense_problem(layer) -> str | None:
    return quantized_problem(layer) or activation_problem(layer.activation, recurrent=False)


@converts(keras.layers.Dense, check=dense_problem, per_step=True)
def dense(ctx: Context, layer, args, kwargs):
    x = args[0]
    g = ctx.g
    y = g.op("MatMul", [x.name, g.const(weights(layer.kernel), f"{layer.name}_kernel")], hint=layer.name)
    if layer.use_bias:
        y = g.op("Add", [y, g.const(weights(layer.bias), f"{layer.name}_bias")], hint=layer.name)
    return x.renamed(node_activation(keras_name(layer.activation))(g, y))


@converts(keras.layers.Activation, check=lambda layer: activation_problem(layer.activation, recurrent=False),
          per_step=True)
def activation(ctx: Context, layer, args, kwargs):
    x = args[0]
    return x.renamed(node_activation(keras_name(layer.activation))(ctx.g, x.name))


def time_distributed_problem(layer) -> str | None:
    inner = find(layer.layer)
    if inner is None or not inner.per_step:
        return f"wraps {type(layer.layer).__name__}, which is not a per-step layer the fused exporter covers"
    return inner.check(layer.layer) if inner.check else None


@converts(keras.layers.TimeDistributed, check=time_distributed_problem)
def time_distributed(ctx: Context, layer, args, kwargs):
    """A per-step layer applied at every step is that layer applied to the sequence."""
    return find(layer.layer).fn(ctx, layer.layer, args, {})
