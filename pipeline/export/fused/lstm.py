"""Keras ``LSTM`` cell -> ONNX ``LSTM`` weights.

Keras stores the four gates side by side as ``i, f, c, o`` (input, forget,
candidate, output) in ``kernel [input, 4H]``, ``recurrent_kernel [H, 4H]`` and
``bias [4H]``; ONNX wants ``i, o, f, c`` rows in ``W [4H, input]`` and
``R [4H, H]``. The Keras bias goes to ``Wb``; ``Rb`` is 0. Activations:
``f`` = Keras ``recurrent_activation`` (gates), ``g`` and ``h`` = Keras
``activation`` (candidate and output), exactly as Keras applies them.

>>> import keras
>>> layer = keras.layers.LSTM(3)
>>> layer.build((None, None, 2))
>>> w = lstm_cell(layer.cell)
>>> w.op_type, w.W.shape, w.R.shape, w.B.shape, [a.name for a in w.activations]
('LSTM', (12, 2), (12, 3), (24,), ['Sigmoid', 'Tanh', 'Tanh'])
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.activations import keras_name
from pipeline.export.fused.recurrent import CellWeights, maps_cell, recurrent_activations
from pipeline.export.fused.weights import weights

KERAS_TO_ONNX_GATES = (0, 3, 1, 2)  # ONNX i, o, f, c taken from Keras i, f, c, o


def _reorder(matrix: np.ndarray, units: int) -> np.ndarray:
    """Columns in Keras gate order -> rows in ONNX gate order."""
    blocks = [matrix[..., k * units:(k + 1) * units] for k in KERAS_TO_ONNX_GATES]
    return np.ascontiguousarray(np.concatenate(blocks, axis=-1).T)


@maps_cell(keras.layers.LSTMCell, activations=("recurrent_activation", "activation"))
def lstm_cell(cell) -> CellWeights:
    units = cell.units
    bias = weights(cell.bias) if cell.use_bias else np.zeros(4 * units, np.float32)
    gate, act = recurrent_activations(cell, ("recurrent_activation", "activation"))
    return CellWeights(
        op_type="LSTM",
        hidden=units,
        W=_reorder(weights(cell.kernel), units),
        R=_reorder(weights(cell.recurrent_kernel), units),
        B=np.concatenate([_reorder(bias[None, :], units)[:, 0], np.zeros(4 * units, np.float32)]),
        activations=(gate, act, act),
        states=2,
        activation=keras_name(cell.activation),
    )
