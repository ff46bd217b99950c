"""Data stage: corpora, file readers, vocabularies and batches.

Nothing in this sub-package imports TensorFlow or Keras, so the ONNX Runtime
path (:mod:`pipeline.runtime`) can reuse vocabularies and tokenisation.
"""

from pipeline.data.corpus import TASKS, Split

__all__ = ["TASKS", "Split"]
