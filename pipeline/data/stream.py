"""Corpora larger than memory: many files, read one at a time.

``--data`` naming a folder or a glob pattern (``corpus/*.conllu``) that matches
several files makes a *streamed* corpus. rnnx never holds more than one file's
sentences at once:

1. one streaming pass counts words and labels (the vocabulary needs only the
   counts) and the number of sequences (for steps per epoch);
2. every epoch reads the files in a new seeded order, shuffles the sentences of
   each file, and feeds them one by one to ``tf.data``, which shuffles across
   files in a bounded buffer, buckets them by length and pads each batch.

Splitting a big corpus into files of a few hundred thousand tokens keeps the
peak memory low. A streamed corpus needs ``--dev FILE`` (it is not held out of
the stream).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for i in range(2):
...     _ = (d / f"part{i}.txt").write_text("The/DET cat/NOUN ./.\\n", encoding="utf-8")
>>> [p.name for p in corpus_files(str(d))]
['part0.txt', 'part1.txt']
>>> scan = scan_corpus(corpus_files(str(d)), lowercase=True)
>>> scan.sequences, scan.tokens, sorted(scan.labels), scan.words["the"]
(2, 6, ['.', 'DET', 'NOUN'], 2)
"""

from __future__ import annotations

import glob
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from pipeline.data.corpus import Split
from pipeline.data.vocab import normalize
from pipeline.errors import DataError


def corpus_files(data: str) -> list[Path] | None:
    """The files of a streamed corpus, or None when ``data`` names a single file / dataset."""
    path = Path(data)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(f"{data}: the folder holds no corpus files")
        return files
    if any(ch in data for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(data) if Path(p).is_file())
        if not files:
            raise DataError(f"{data}: the pattern matches no files")
        return files
    return None


def read_part(path: Path, fmt: str | None, column: str) -> Split:
    from pipeline.data.readers import read_file

    return read_file(path, fmt, column=column)


@dataclass
class CorpusScan:
    task: str = ""
    sequences: int = 0
    tokens: int = 0
    words: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)


def scan_corpus(files: list[Path], *, fmt: str | None = None, column: str = "upos",
                lowercase: bool = True) -> CorpusScan:
    """One pass over the files: word and label counts, sizes, and one task for all."""
    scan = CorpusScan()
    for path in files:
        part = read_part(path, fmt, column)
        if scan.task and part.task != scan.task:
            raise DataError(f"{path} holds {part.task} data but {files[0]} holds {scan.task} data")
        scan.task = part.task
        scan.sequences += len(part)
        scan.tokens += part.num_tokens
        for toks in part.tokens:
            scan.words.update(normalize(t, lowercase) for t in toks)
        if part.task == "tagging":
            for tags in part.labels:
                scan.labels.update(tags)
        else:
            scan.labels.update(part.labels)
    return scan


def iter_examples(files: list[Path], *, fmt: str | None, column: str, seed: int) -> Iterator[tuple[list[str], object]]:
    """``(tokens, labels)`` pairs, files in a seeded order, each file shuffled."""
    rng = np.random.default_rng(seed)
    for f in rng.permutation(len(files)):
        part = read_part(files[int(f)], fmt, column)
        for i in rng.permutation(len(part)):
            yield part.tokens[int(i)], part.labels[int(i)]
