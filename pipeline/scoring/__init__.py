"""Scores and prediction decoding, shared by train, check, experiment and benchmarks.

Only numpy and the standard library are imported here (no TensorFlow, Keras or
ONNX Runtime), so Keras and ONNX Runtime predictions are decoded and scored by
the same code:

* :mod:`pipeline.scoring.decode`   probabilities -> labels: argmax, CRF Viterbi (numpy)
* :mod:`pipeline.scoring.accuracy` accuracy of label lists, per-item correct counts
* :mod:`pipeline.scoring.metrics`  full reports: per-label P/R/F1, CoNLL entity scores, confusion matrices
"""
