"""Model stage: Keras taggers and classifiers built from a :class:`ModelConfig`."""

from pipeline.models.config import CELLS, ModelConfig
from pipeline.models.builders import build_model

__all__ = ["CELLS", "ModelConfig", "build_model", "load_model"]


def load_model(path):
    """A saved rnnx Keras model (``model.keras``), rnnx's own layers registered first.

    ``CharCNN``, ``WordBoundaryStates``, ``WordDropout``, ``StatePooling``, ``CRF`` and ``CRFTagger`` are registered when their modules are
    imported; a fresh process must import them before Keras reads the file.
    """
    from pipeline.keras_env import import_keras
    from pipeline.models import char_lm, chars, crf, pooling, word_dropout  # noqa: F401  (registers the custom classes)

    return import_keras().saving.load_model(path, compile=False)
