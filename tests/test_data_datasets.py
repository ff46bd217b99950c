"""The dataset registry, the parsed-split cache and describe()."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.data import datasets
from pipeline.data.corpus import Split
from pipeline.errors import ConfigError


def test_registry_lists_every_built_in_dataset():
    rows = {r["name"]: r for r in datasets.list_datasets()}
    assert set(rows) == {"brown-upos", "mr", "conll2003-ner", "ewt-upos", "amazon-sentiment", "tweets-sentiment",
                         "nyt-sentiment"}
    assert rows["brown-upos"]["task"] == "tagging" and rows["mr"]["task"] == "classification"
    assert rows["conll2003-ner"]["task"] == rows["ewt-upos"]["task"] == "tagging"
    for r in rows.values():
        assert r["description"] and r["citation"] and r["source"] and r["split_rule"]
        assert len(r["archive_sha256"]) == 64


def test_unknown_dataset_names_the_known_ones_and_the_file_route():
    with pytest.raises(ConfigError) as err:
        datasets.load_dataset("imdb")
    msg = str(err.value)
    assert "'imdb'" in msg and "brown-upos" in msg and "mr" in msg and "--data PATH" in msg


def _toy_dataset(cache, loader, content=b"the toy archive"):
    """A registered-looking dataset whose 'archive' is a small file in the download cache."""
    import hashlib

    (cache / "downloads").mkdir(parents=True, exist_ok=True)
    (cache / "downloads" / "toy-1.0.tgz").write_bytes(content)
    return dataclasses.replace(datasets.DATASETS["mr"], name="toy", archive_file="toy-1.0.tgz",
                               archive_sha256=hashlib.sha256(content).hexdigest(), loader=loader)



def _counting_toy(tmp_path, monkeypatch):
    """A registered toy dataset whose loader counts how often the archive is parsed."""
    calls = []

    def loader():
        calls.append(1)
        return {"train": Split("classification", [["good", "film"]], ["pos"], "toy:train", {})}

    toy = _toy_dataset(tmp_path, loader)
    monkeypatch.setitem(datasets.DATASETS, "toy", toy)
    return toy, calls

def test_parsed_splits_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNX_CACHE", str(tmp_path))
    calls = []

    def loader():
        calls.append(1)
        return {"train": Split("classification", [["good", "film"]], ["pos"], "toy:train", {"k": 1})}

    toy = _toy_dataset(tmp_path, loader)
    monkeypatch.setitem(datasets.DATASETS, "toy", toy)
    first = datasets.load_dataset("toy")
    second = datasets.load_dataset("toy")
    assert len(calls) == 1
    assert (second["train"].tokens, second["train"].labels, second["train"].meta) == (
        first["train"].tokens, first["train"].labels, {"k": 1})
    datasets.parsed_cache_path(toy).write_bytes(b"garbage")  # a damaged cache is parsed again
    assert datasets.load_dataset("toy")["train"].labels == ["pos"] and len(calls) == 2
    bumped = dataclasses.replace(toy, parse_version=toy.parse_version + 1)
    monkeypatch.setitem(datasets.DATASETS, "toy", bumped)
    datasets.load_dataset("toy")
    assert len(calls) == 3, "a new parser version must not read the old cache"


def test_a_planted_cache_file_cannot_run_code(tmp_path, monkeypatch):
    """Whatever sits under RNNX_CACHE/parsed/ is data: a pickle that would run a command does nothing."""
    import pickle

    monkeypatch.setenv("RNNX_CACHE", str(tmp_path))
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    toy, calls = _counting_toy(tmp_path, monkeypatch)
    path = datasets.parsed_cache_path(toy)
    path.parent.mkdir(parents=True, exist_ok=True)
    for planted in (path, path.with_suffix(".pickle"), path.parent / path.name.replace("-c2.", "-c1.")):
        planted.write_bytes(pickle.dumps({"train": Payload()}))
    assert datasets.load_dataset("toy")["train"].labels == ["pos"]
    assert not marker.exists(), "reading the cache ran a command"
    assert len(calls) == 1  # parsed from the archive instead
    assert path.read_bytes().startswith(b"{")  # and rewritten as JSON


def test_a_corrupted_archive_is_not_hidden_by_the_cache(tmp_path, monkeypatch):
    """The cache is tied to the archive's sha256: once the archive beside it changes, it is not used."""
    monkeypatch.setenv("RNNX_CACHE", str(tmp_path))
    toy, calls = _counting_toy(tmp_path, monkeypatch)
    datasets.load_dataset("toy")
    datasets.load_dataset("toy")
    assert len(calls) == 1
    (tmp_path / "downloads" / toy.archive_file).write_bytes(b"damaged on disk")
    datasets.load_dataset("toy")
    assert len(calls) == 2, "a cache must not stand in for an archive whose sha256 no longer matches"
    (tmp_path / "downloads" / toy.archive_file).unlink()
    datasets.load_dataset("toy")
    assert len(calls) == 3


def test_builtin_cache_round_trips_the_real_corpus(mr):
    """The JSON cache gives back exactly what parsing gives (tokens, labels, sources, meta)."""
    fresh = datasets.load_dataset("mr", use_cache=False)
    for name, split in fresh.items():
        cached = mr[name]
        assert (cached.tokens, cached.labels, cached.source, cached.meta) == (
            split.tokens, split.labels, split.source, split.meta)


def test_describe_counts_labels_and_lengths():
    tagging = Split("tagging", [["a"] * n for n in (1, 2, 3, 4, 10)],
                    [["N"] * (n - 1) + ["V"] for n in (1, 2, 3, 4, 10)])
    d = datasets.describe({"train": tagging, "dev": tagging.head(2)})
    t = d["train"]
    assert d["task"] == "tagging"
    assert (t["sequences"], t["tokens"], t["label_kinds"]) == (5, 20, 2)
    assert t["labels"] == {"N": {"count": 15, "share": 0.75}, "V": {"count": 5, "share": 0.25}}
    assert t["lengths"] == {"min": 1, "median": 3, "mean": 4.0, "p95": 10, "max": 10}
    assert d["dev"]["sequences"] == 2 and d["dev"]["lengths"]["median"] == 1.5


def test_describe_top_and_empty_split():
    s = Split("classification", [["x"]] * 6, ["a", "a", "a", "b", "b", "c"])
    d = datasets.describe({"train": s, "test": Split("classification", [], [])}, top=2)
    assert list(d["train"]["labels"]) == ["a", "b"] and d["train"]["label_kinds"] == 3
    assert d["test"]["sequences"] == 0 and d["test"]["lengths"]["max"] == 0
