"""What flows between converters: an ONNX tensor standing for one Keras tensor.

Sequences travel **time-major** where that saves work: ONNX ``RNN``/``GRU``/``LSTM``
read and write ``[time, batch, features]``, so the embedding lookup writes that
layout directly and a tagger pays one transpose, of its small output, at the end.
A Value records the layout instead of forcing it:

* ``time_major=False``: the ONNX tensor has the Keras tensor's shape.
* ``time_major=True``: axes 0 and 1 are swapped (``[time, batch, ...]`` for the
  Keras ``[batch, time, ...]``).

Element-wise ops and ops on the last axis keep the layout; anything that needs
axis 0 or 1 asks the context for the Keras layout first.

>>> v = Value("emb", rank=3, time_major=True)
>>> v.onnx_axis(-1), v.onnx_axis(1), v.onnx_axis(0)
(2, 0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Value:
    name: str
    rank: int
    time_major: bool = False
    dtype: type = np.float32

    def onnx_axis(self, keras_axis: int) -> int:
        """The ONNX axis holding the Keras axis ``keras_axis`` (negative allowed)."""
        axis = keras_axis + self.rank if keras_axis < 0 else keras_axis
        if not 0 <= axis < self.rank:
            raise ValueError(f"axis {keras_axis} is out of range for rank {self.rank}")
        if self.time_major and axis in (0, 1):
            return 1 - axis
        return axis

    def touches_batch_or_time(self, keras_axis: int) -> bool:
        axis = keras_axis + self.rank if keras_axis < 0 else keras_axis
        return axis in (0, 1)

    def renamed(self, name: str, **changes) -> "Value":
        return replace(self, name=name, **changes)
