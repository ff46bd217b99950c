"""Layers the fused exporter knows and refuses, with what to do instead.

``Lambda`` runs a Python function the exporter cannot read; registering the
refusal (rather than leaving the type unknown) gives users the reason, the same
in ``unsupported_layers`` and in the error ``convert`` raises.

>>> import keras
>>> from pipeline.export.fused.registry import unsupported_reason
>>> reason = unsupported_reason(keras.layers.Lambda(lambda t: 2 * t, name="double"))
>>> for part in reason.split("; "):
...     print(part)
double (Lambda: Lambda runs arbitrary Python, which the fused exporter cannot read
replace it with built-in layers, or convert with the tf2onnx engine)
"""

from __future__ import annotations

import keras

from pipeline.export.fused.registry import refuses

refuses(keras.layers.Lambda, reason="Lambda runs arbitrary Python, which the fused exporter cannot read; replace it "
        "with built-in layers, or convert with the tf2onnx engine")
