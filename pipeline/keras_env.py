"""Importing Keras the way rnnx needs it: TensorFlow backend unless the user chose
another, TensorFlow's C++ start-up chatter silenced, and device facts at hand.

Only the training and export stages import this module; the runtime never does.

>>> keras = import_keras()
>>> keras.backend.backend() in ("tensorflow", "jax", "torch")
True
"""

from __future__ import annotations

import os


def import_keras():
    """Return the ``keras`` module, configured for rnnx."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow sees (empty on a CPU-only machine)."""
    import_keras()
    try:
        import tensorflow as tf
    except ImportError:
        return []
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def device_summary() -> str:
    gpus = gpu_names()
    return f"GPU: {', '.join(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores, no GPU visible)"
