"""rnnx: recurrent taggers and classifiers, trained with Keras, served by ONNX Runtime.

The package is laid out in the order data flows through it::

    pipeline.data        corpora, file readers, vocabularies, batches (no TensorFlow)
    pipeline.models      Keras tagger and classifier builders
    pipeline.train       model.fit, evaluation
    pipeline.scoring     metrics and prediction decoding (numpy only)
    pipeline.export      ONNX conversion and deployment variants
    pipeline.check       parity checks and latency benchmarks of what export built
    pipeline.runtime     ONNX Runtime inference (numpy + onnxruntime only)
    pipeline.experiment  ``rnnx experiment`` and its plans (the demo is one)
    pipeline.cli         the ``rnnx`` command, one module per sub-command

Importing ``pipeline`` itself loads nothing heavy: the runtime must stay usable
where TensorFlow is not installed.
"""

__version__ = "0.1.0"
