"""The builders: every cell x direction x task builds the documented architecture."""

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.models import CELLS, ModelConfig, build_model

COMBOS = [(task, cell, bi) for task in ("tagging", "classification") for cell in CELLS for bi in (False, True)]


@pytest.mark.parametrize("task,cell,bi", COMBOS)
def test_builds_and_respects_mask(task, cell, bi):
    cfg = ModelConfig(task, cell, bidirectional=bi, units=6, embedding_dim=5, vocab_size=30, num_labels=4,
                      dropout=0.0)
    model = build_model(cfg)
    ids = np.array([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]], dtype=np.int64)
    out = np.asarray(model(ids, training=False))
    if task == "tagging":
        assert out.shape == (2, 5, 4)
        # a tagger's output at a real token must not depend on padding after it
        longer = np.concatenate([ids, np.zeros((2, 3), np.int64)], axis=1)
        out2 = np.asarray(model(longer, training=False))
        np.testing.assert_allclose(out2[0, :3], out[0, :3], atol=1e-6)
    else:
        assert out.shape == (2, 4)
        # a classifier reads the last real token's state: trailing padding changes nothing
        out2 = np.asarray(model(np.array([[5, 6, 7]], np.int64), training=False))
        np.testing.assert_allclose(out2[0], out[0], atol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)


def test_stacked_layers_and_config_roundtrip():
    cfg = ModelConfig("classification", "gru", bidirectional=True, layers=2, units=4, embedding_dim=3,
                      vocab_size=10, num_labels=2)
    model = build_model(cfg)
    names = [layer.name for layer in model.layers]
    assert "bigru_0" in names and "bigru_1" in names
    assert ModelConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("field,value", [("cell", "rnn"), ("task", "ner"), ("layers", 0), ("dropout", 1.0),
                                         ("units", 0)])
def test_bad_config_names_the_argument(field, value):
    kwargs = {"task": "tagging", field: value}
    with pytest.raises(ConfigError, match=field):
        ModelConfig(**kwargs)


def test_build_needs_sizes():
    with pytest.raises(ConfigError, match="vocab_size"):
        build_model(ModelConfig("tagging", vocab_size=0, num_labels=5))
