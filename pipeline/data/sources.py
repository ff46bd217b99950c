"""Turn what a user names on the command line into train/dev/test splits.

``--data`` is either a built-in dataset name (``brown-upos``, ``mr``) or a file in
one of the formats :mod:`pipeline.data.readers` knows. A user file without
``--dev`` gives up every 10th sequence (by position) as its dev split.

>>> holdout_every(list(range(20)), 10)
([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18], [9, 19])
"""

from __future__ import annotations

from pathlib import Path

from pipeline.data.corpus import Split
from pipeline.errors import ConfigError


def holdout_every(indices: list[int], every: int) -> tuple[list[int], list[int]]:
    keep = [i for k, i in enumerate(indices) if k % every != every - 1]
    held = [i for k, i in enumerate(indices) if k % every == every - 1]
    return keep, held


def is_builtin(name: str) -> bool:
    from pipeline.data.datasets import DATASETS

    return name in DATASETS


def load_file(path: str, fmt: str | None = None, column: str = "upos") -> Split:
    from pipeline.data.readers import read_file

    return read_file(path, fmt, column=column)


def resolve(
    data: str,
    *,
    fmt: str | None = None,
    column: str = "upos",
    dev: str | None = None,
    test: str | None = None,
) -> dict[str, Split]:
    """Splits ``train``, ``dev`` (and ``test`` when known) for ``--data``."""
    if is_builtin(data):
        if dev or test:
            raise ConfigError(f"--dev/--test apply to user files; {data!r} is a built-in dataset with its own splits")
        from pipeline.data.datasets import load_dataset

        return load_dataset(data)
    from pipeline.data.stream import corpus_files

    if corpus_files(data):  # a streamed corpus: only its dev/test files fit in memory
        if not dev:
            raise ConfigError(f"--data {data} names several files (a streamed corpus); give --dev FILE")
        held = {"dev": load_file(dev, fmt, column)}
        if test:
            held["test"] = load_file(test, fmt, column)
        return held
    if not Path(data).exists():
        from pipeline.data.datasets import DATASETS

        raise ConfigError(
            f"--data {data!r} is neither a built-in dataset ({', '.join(DATASETS)}) nor an existing file"
        )
    train = load_file(data, fmt, column)
    splits: dict[str, Split] = {}
    if dev:
        splits["train"] = train
        splits["dev"] = load_file(dev, fmt, column)
    else:
        if len(train) < 10:
            raise ConfigError(f"{data}: {len(train)} sequences are too few to hold out a dev split; give --dev FILE")
        keep, held = holdout_every(list(range(len(train))), 10)
        splits["train"] = train.subset(keep)
        splits["dev"] = train.subset(held)
        splits["dev"].source = f"{data} (every 10th sequence)"
    if test:
        splits["test"] = load_file(test, fmt, column)
    for split in splits.values():
        if split.task != train.task:
            raise ConfigError(f"{split.source}: holds {split.task} data but {data} holds {train.task} data")
    return splits
