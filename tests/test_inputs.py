"""Training inputs: both batch pipelines (tf.data, and the backend-neutral
PyDataset used under JAX/PyTorch) cover every sequence once per epoch, pad on
the right, re-bucket each epoch, and train a model."""

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.train.inputs import BatchPlan, make_dataset


def toy(n=50, seed=0):
    rng = np.random.default_rng(seed)
    ids = [list(rng.integers(2, 20, size=int(rng.integers(1, 15)))) for _ in range(n)]
    targets = [np.asarray([t % 3 for t in s], np.int32) for s in ids]
    return ids, targets


def epoch_batches(ds, pipeline, steps):
    if pipeline == "pydataset":
        out = [ds[i] for i in range(len(ds))]
        ds.on_epoch_end()
        return out
    it = iter(ds)
    return [tuple(t.numpy() for t in next(it)) for _ in range(steps)]


@pytest.mark.parametrize("pipeline", ["tf.data", "pydataset"])
def test_every_sequence_once_per_epoch_right_padded(pipeline):
    ids, targets = toy()
    ds, steps = make_dataset(ids, targets, "tagging", 8, shuffle=True, seed=1, pipeline=pipeline)
    assert steps == 7
    first = epoch_batches(ds, pipeline, steps)
    seen = sorted(tuple(int(v) for v in row[row != 0]) for x, _ in first for row in x)
    assert seen == sorted(tuple(int(v) for v in s) for s in ids)
    for x, y in first:
        lengths = (x != 0).sum(1)
        for row, n in zip(x, lengths):
            assert (row[:n] != 0).all() and (row[n:] == 0).all()
        assert ((y != 0) <= (x != 0)).all()


def test_plan_rebuckets_each_epoch_and_is_seeded():
    ids, targets = toy()
    plan = BatchPlan(ids, targets, "tagging", 8, shuffle=True, seed=3)
    a, b = plan.order(0), plan.order(1)
    assert [list(x) for x in a] != [list(x) for x in b]
    assert [list(x) for x in a] == [list(x) for x in BatchPlan(ids, targets, "tagging", 8, True, 3).order(0)]


def test_pydataset_pipeline_trains_a_model():
    from pipeline.models import ModelConfig, build_model

    ids, targets = toy(80)
    ds, steps = make_dataset(ids, targets, "tagging", 16, shuffle=True, seed=0, pipeline="pydataset")
    model = build_model(ModelConfig("tagging", "gru", units=8, embedding_dim=8, vocab_size=20, num_labels=3,
                                    dropout=0.0))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(ds, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_unknown_pipeline_is_named():
    ids, targets = toy(5)
    with pytest.raises(ConfigError, match="pydataset"):
        make_dataset(ids, targets, "tagging", 2, shuffle=False, seed=0, pipeline="torch.utils.data")
