"""rnnx: recurrent taggers and classifiers, trained with Keras, served by ONNX Runtime.

The package is laid out in the order data flows through it::

    pipeline.data     corpora, file readers, vocabularies, batches (no TensorFlow)
    pipeline.models   Keras tagger and classifier builders
    pipeline.train    model.fit, evaluation, metrics
    pipeline.export   ONNX conversion, parity check, latency benchmark
    pipeline.runtime  ONNX Runtime inference (numpy + onnxruntime only)
    pipeline.cli      the ``rnnx`` command

Importing ``pipeline`` itself loads nothing heavy: the runtime must stay usable
where TensorFlow is not installed.
"""

__version__ = "0.1.0"
