"""Reading weights from Keras layers.

Weights are exported as float32 whatever the layer's dtype policy: a model
trained with ``mixed_float16``/``mixed_bfloat16`` keeps float32 variables, and a
float16 model is widened. Quantized layers (``layer.quantize("int8")``) are not
read; the fused exporter writes float models.

>>> import keras
>>> layer = keras.layers.Dense(2, dtype="float16")
>>> layer.build((None, 3))
>>> weights(layer.kernel).dtype
dtype('float32')
"""

from __future__ import annotations

import numpy as np


def weights(variable) -> np.ndarray:
    """A Keras variable (or property such as ``Dense.kernel``) as a float32 numpy array."""
    value = variable.numpy() if hasattr(variable, "numpy") else variable
    return np.asarray(value, dtype=np.float32)


def quantized_problem(layer) -> str | None:
    """A reason to refuse a quantized layer, or ``None``."""
    mode = getattr(layer, "quantization_mode", None)
    return f"quantized ({mode}) layers are not supported; export the float model" if mode else None
