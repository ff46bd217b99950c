"""Keras ``SimpleRNN`` (Elman) cell -> ONNX ``RNN`` weights.

Keras computes ``h_t = act(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``;
ONNX ``RNN`` computes ``act(X W^T + H R^T + Wb + Rb)``, so ``W = kernel^T``,
``R = recurrent_kernel^T``, ``Wb = bias``, ``Rb = 0``.

How the recurrence is written (one ``RNN`` op, a ``Scan``, or an ``If`` choosing
by batch size) is decided in :mod:`pipeline.export.fused.scan_rnn`.

>>> import keras
>>> layer = keras.layers.SimpleRNN(3)
>>> layer.build((None, None, 2))
>>> w = simple_rnn_cell(layer.cell)
>>> w.op_type, w.W.shape, w.R.shape, w.B.shape
('RNN', (3, 2), (3, 3), (6,))
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.activations import keras_name
from pipeline.export.fused.recurrent import CellWeights, maps_cell, recurrent_activations
from pipeline.export.fused.weights import weights


@maps_cell(keras.layers.SimpleRNNCell, activations=("activation",))
def simple_rnn_cell(cell) -> CellWeights:
    kernel = weights(cell.kernel)
    units = kernel.shape[1]
    bias = weights(cell.bias) if cell.use_bias else np.zeros(units, np.float32)
    return CellWeights(
        op_type="RNN",
        hidden=units,
        W=np.ascontiguousarray(kernel.T),
        R=np.ascontiguousarray(weights(cell.recurrent_kernel).T),
        B=np.concatenate([bias, np.zeros(units, np.float32)]),
        activations=recurrent_activations(cell, ("activation",)),
        activation=keras_name(cell.activation),
    )
