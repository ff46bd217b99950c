"""Padding and length-bucketed batches: properties over random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.data.batching import batch_padded, bucket_batches, pad

seqs_st = st.lists(st.lists(st.integers(1, 50), max_size=12), max_size=20)
lengths_st = st.lists(st.integers(0, 60), max_size=300)


@settings(max_examples=150, deadline=None)
@given(seqs_st, st.integers(0, 5))
def test_pad_keeps_rows_and_pads_on_the_right(seqs, min_width):
    x = pad(seqs, min_width=min_width)
    assert x.dtype == np.int64
    assert x.shape == (len(seqs), max([min_width, *map(len, seqs)]))
    for row, seq in zip(x, seqs):
        assert row[: len(seq)].tolist() == seq
        assert (row[len(seq):] == 0).all()


def test_pad_edge_cases():
    assert pad([]).shape == (0, 0)
    assert pad([[], []]).shape == (2, 0)
    assert pad([[], []], min_width=1).tolist() == [[0], [0]]
    assert pad([[1, 2, 3], [4]], max_len=2).tolist() == [[1, 2], [4, 0]]
    assert pad([[1]], max_len=3, value=-1).tolist() == [[1, -1, -1]]
    with pytest.raises(ValueError):
        pad([[1]], max_len=-1)


@settings(max_examples=150, deadline=None)
@given(lengths_st, st.integers(1, 40), st.booleans(), st.integers(0, 2**31), st.integers(1, 5))
def test_bucket_batches_use_every_index_once(lengths, batch_size, shuffle, seed, chunk_batches):
    batches = bucket_batches(lengths, batch_size, shuffle=shuffle, seed=seed, chunk_batches=chunk_batches)
    flat = np.concatenate(batches).tolist() if batches else []
    assert sorted(flat) == list(range(len(lengths)))
    assert len(batches) == math.ceil(len(lengths) / batch_size)  # same count shuffled or not
    assert all(1 <= len(b) <= batch_size for b in batches)
    again = bucket_batches(lengths, batch_size, shuffle=shuffle, seed=seed, chunk_batches=chunk_batches)
    assert [b.tolist() for b in again] == [b.tolist() for b in batches]  # deterministic


def test_batches_are_length_sorted_within_a_chunk_and_seeds_differ():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=2000).tolist()
    batches = bucket_batches(lengths, 32, shuffle=True, seed=1)
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in batches])
    assert spread < 10, "batches should hold sequences of similar length"
    other = bucket_batches(lengths, 32, shuffle=True, seed=2)
    assert [b.tolist() for b in other] != [b.tolist() for b in batches]
    plain = bucket_batches(lengths, 32, shuffle=False)
    assert np.all(np.diff(np.asarray(lengths)[np.concatenate(plain)]) >= 0)


def test_bucket_batches_rejects_bad_sizes():
    with pytest.raises(ValueError, match="batch_size"):
        bucket_batches([1, 2], 0, shuffle=False)
    assert bucket_batches([], 4, shuffle=True) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(2, 9), min_size=0, max_size=8), min_size=1, max_size=10), st.data())
def test_batch_padded_tagging_targets_align_with_ids(ids, data):
    targets = [[t % 3 + 1 for t in seq] for seq in ids]
    idx = data.draw(st.lists(st.integers(0, len(ids) - 1), min_size=1, max_size=len(ids), unique=True))
    x, y = batch_padded(ids, targets, idx, task="tagging")
    assert x.shape == y.shape and x.shape[1] >= 1
    for row, i in enumerate(idx):
        n = len(ids[i])
        assert x[row, :n].tolist() == ids[i] and y[row, :n].tolist() == targets[i]
        assert (x[row, n:] == 0).all() and (y[row, n:] == 0).all()


def test_batch_padded_classification_and_errors():
    x, y = batch_padded([[3, 4, 5], [6]], [1, 0], [1, 0], task="classification")
    assert x.tolist() == [[6, 0, 0], [3, 4, 5]] and y.tolist() == [0, 1] and y.dtype == np.int32
    with pytest.raises(ValueError, match="2 ids but 1 targets"):
        batch_padded([[3, 4]], [[1]], [0], task="tagging")
    with pytest.raises(ValueError, match="task"):
        batch_padded([[3]], [1], [0], task="parsing")
