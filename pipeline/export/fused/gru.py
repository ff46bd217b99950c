"""Keras ``GRU`` cell -> ONNX ``GRU`` weights.

Both use the gate order ``z, r, h`` (update, reset, candidate), and both compute
``h_t = z * h_{t-1} + (1 - z) * candidate``, so ``W = kernel^T`` and
``R = recurrent_kernel^T`` with no reordering.

* ``reset_after=True`` (the Keras 3 default, cuDNN's form): the reset gate scales
  ``h @ R_h + b_recurrent``: ONNX ``linear_before_reset=1``, ``B = [input bias,
  recurrent bias]`` (Keras keeps them as the two rows of ``bias [2, 3H]``).
* ``reset_after=False``: the reset gate scales ``h`` before ``R_h``: ONNX
  ``linear_before_reset=0``, one Keras bias row -> ``Wb``, ``Rb = 0``.

Activations: ``f`` = Keras ``recurrent_activation``, ``g`` = ``activation``.

>>> import keras
>>> layer = keras.layers.GRU(3, reset_after=False)
>>> layer.build((None, None, 2))
>>> w = gru_cell(layer.cell)
>>> w.op_type, w.W.shape, w.B.shape, dict(w.attrs)
('GRU', (9, 2), (18,), {'linear_before_reset': 0})
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.export.fused.activations import keras_name
from pipeline.export.fused.recurrent import CellWeights, maps_cell, recurrent_activations
from pipeline.export.fused.weights import weights


@maps_cell(keras.layers.GRUCell, activations=("recurrent_activation", "activation"))
def gru_cell(cell) -> CellWeights:
    units = cell.units
    zeros = np.zeros(3 * units, np.float32)
    if not cell.use_bias:
        bias = np.concatenate([zeros, zeros])
    elif cell.reset_after:
        b = weights(cell.bias)  # [2, 3H]: input bias, recurrent bias
        bias = np.concatenate([b[0], b[1]])
    else:
        bias = np.concatenate([weights(cell.bias), zeros])
    return CellWeights(
        op_type="GRU",
        hidden=units,
        W=np.ascontiguousarray(weights(cell.kernel).T),
        R=np.ascontiguousarray(weights(cell.recurrent_kernel).T),
        B=bias,
        activations=recurrent_activations(cell, ("recurrent_activation", "activation")),
        attrs=(("linear_before_reset", 1 if cell.reset_after else 0),),
        activation=keras_name(cell.activation),
    )
