"""ONNX Runtime inference for exported rnnx models.

This sub-package imports numpy and onnxruntime only: never TensorFlow or Keras.
"""
