"""Keras activations in ONNX: as an attribute of a fused recurrent op, or as nodes.

ONNX ``RNN``/``GRU``/``LSTM`` take activations by name (``activations``,
``activation_alpha``, ``activation_beta``). Only some Keras activations have an
exact counterpart there; the others make the layer unsupported (and
``--engine auto`` falls back to tf2onnx).

Keras 3 ``hard_sigmoid`` is ``relu6(x + 3) / 6`` (slope 1/6, not the 0.2 of
Keras 2), i.e. ONNX ``HardSigmoid(alpha=1/6, beta=0.5)``.

>>> recurrent_activation("hard_sigmoid")
RecurrentActivation(name='HardSigmoid', alpha=0.16666666666666666, beta=0.5)
>>> recurrent_activation("gelu") is None
True
>>> recurrent_activation("softplus") is None   # ORT's recurrent Softplus overflows above 88
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pipeline.export.fused.graph import GraphBuilder


@dataclass(frozen=True)
class RecurrentActivation:
    name: str
    alpha: float | None = None
    beta: float | None = None


_RECURRENT = {
    "tanh": RecurrentActivation("Tanh"),
    "sigmoid": RecurrentActivation("Sigmoid"),
    "relu": RecurrentActivation("Relu"),
    "hard_sigmoid": RecurrentActivation("HardSigmoid", 1.0 / 6.0, 0.5),
    "linear": RecurrentActivation("Affine", 1.0, 0.0),
    "softsign": RecurrentActivation("Softsign"),
    # not "softplus": ONNX Runtime's recurrent kernels compute log(exp(x) + 1), which is
    # inf for x > 88 where Keras gives x; the layer falls back to tf2onnx instead.
    "elu": RecurrentActivation("Elu", 1.0),
    "leaky_relu": RecurrentActivation("LeakyRelu", 0.2),
}


def keras_name(fn) -> str | None:
    """The name of a built-in Keras activation function, or ``None`` for custom ones."""
    import keras

    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        return None
    try:
        builtin = keras.activations.get(name)
    except (ValueError, TypeError):
        return None
    return name if builtin is fn else None


def recurrent_activation(name: str | None) -> RecurrentActivation | None:
    return _RECURRENT.get(name) if name else None


def recurrent_attributes(acts: list[RecurrentActivation]) -> dict:
    """``activations``/``activation_alpha``/``activation_beta`` attributes.

    Alphas and betas are listed only for activations that take them, in order:
    that is how ONNX Runtime consumes them.
    """
    attrs: dict = {"activations": [a.name for a in acts]}
    alphas = [a.alpha for a in acts if a.alpha is not None]
    betas = [a.beta for a in acts if a.beta is not None]
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    return attrs


def _unary(op_type: str, **attrs) -> Callable[[GraphBuilder, str], str]:
    return lambda g, x: g.op(op_type, [x], **attrs)


def _times(gate: Callable[[GraphBuilder, str], str]) -> Callable[[GraphBuilder, str], str]:
    return lambda g, x: g.op("Mul", [x, gate(g, x)])


_SELU_ALPHA, _SELU_SCALE = 1.67326324, 1.05070098  # keras.activations.selu's constants

NODE_ACTIVATIONS: dict[str, Callable[[GraphBuilder, str], str]] = {
    "linear": lambda g, x: x,
    "tanh": _unary("Tanh"),
    "sigmoid": _unary("Sigmoid"),
    "relu": _unary("Relu"),
    "hard_sigmoid": _unary("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),
    "softmax": _unary("Softmax", axis=-1),
    "log_softmax": _unary("LogSoftmax", axis=-1),
    "softplus": _unary("Softplus"),
    "softsign": _unary("Softsign"),
    "elu": _unary("Elu", alpha=1.0),
    "selu": _unary("Selu", alpha=_SELU_ALPHA, gamma=_SELU_SCALE),
    "leaky_relu": _unary("LeakyRelu", alpha=0.2),
    "exponential": _unary("Exp"),
    "relu6": lambda g, x: g.op("Clip", [x, g.const(np.float32(0.0), "zero_f"), g.const(np.float32(6.0), "six_f")]),
    "silu": _times(_unary("Sigmoid")),
    "hard_silu": _times(_unary("HardSigmoid", alpha=1.0 / 6.0, beta=0.5)),
}


def node_activation(name: str | None) -> Callable[[GraphBuilder, str], str] | None:
    """``f(builder, x) -> y`` writing the activation as ONNX nodes (softmax on the last axis)."""
    return NODE_ACTIVATIONS.get(name) if name else None


def activation_problem(fn, *, recurrent: bool) -> str | None:
    """Why ``fn`` cannot be exported, or ``None``."""
    name = keras_name(fn)
    if name is None:
        return f"custom activation {getattr(fn, '__name__', fn)!r} has no ONNX equivalent"
    ok = recurrent_activation(name) if recurrent else node_activation(name)
    if ok is None:
        where = "an ONNX recurrent op" if recurrent else "ONNX"
        return f"activation {name!r} has no equivalent in {where}"
    return None
