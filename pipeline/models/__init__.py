"""Model stage: Keras taggers and classifiers built from a :class:`ModelConfig`."""

from pipeline.models.config import CELLS, ModelConfig
from pipeline.models.builders import build_model

__all__ = ["CELLS", "ModelConfig", "build_model"]
