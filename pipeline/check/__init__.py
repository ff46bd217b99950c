"""Check stage: prove and time what :mod:`pipeline.export` built.

* :mod:`pipeline.check.parity`     ONNX Runtime vs Keras on the held-out split and random batches
* :mod:`pipeline.check.text`       text models (strings in) vs their id models
* :mod:`pipeline.check.int8`       the int8 accuracy gate, and int8 latency
* :mod:`pipeline.check.node`       the JavaScript example (onnxruntime-node) vs Python
* :mod:`pipeline.check.bench`      latency: ONNX Runtime vs Keras
* :mod:`pipeline.check.verify`     every check / bench of an export folder (``rnnx check``, ``rnnx bench``)
* :mod:`pipeline.check.results`    typed failures (tolerance, shape, labels, ids, accuracy drop)
* :mod:`pipeline.check.keras_side` the Keras run behind an export
"""
