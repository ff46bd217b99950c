"""The data one task of the experiment trains and measures on.

A :class:`~pipeline.experiment.plan.TaskPlan` without limits trains on the built-in
dataset as it is (``RunSpec(data="brown-upos")``). With limits, a seeded random
sample of each split (kept in corpus order) is written as user files under
``ROOT/data/NAME/`` (``word/TAG`` lines for tagging, ``label<TAB>text`` for
classification) and the runs train on those files; the splits are read back from
the files so that every later measurement sees exactly what training saw.

>>> sample_indices(10, 4, seed=0)
[2, 4, 5, 7]
>>> sample_indices(3, None, seed=0)
[0, 1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.corpus import Split
from pipeline.experiment.plan import TaskPlan

SPLIT_NAMES = ("train", "dev", "test")
FORMAT_OF_TASK = {"tagging": ("wordtag", ".txt"), "classification": ("tsv", ".tsv")}


@dataclass
class TaskData:
    """What :class:`~pipeline.train.fit.RunSpec` gets, and the splits it stands for."""

    data: str  # RunSpec.data: a built-in name or the train file
    dev: str | None
    test: str | None
    splits: dict[str, Split]

    def sizes(self) -> dict:
        return {k: {"sequences": len(s), "tokens": s.num_tokens} for k, s in self.splits.items()}


def sample_indices(n: int, limit: int | None, *, seed: int) -> list[int]:
    """``limit`` of ``range(n)`` drawn at random (seeded), in increasing order; all when ``limit`` is None."""
    if limit is None or limit >= n:
        return list(range(n))
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n, size=limit, replace=False))


def prepare(task: TaskPlan, root: Path | str, *, seed: int = 0) -> TaskData:
    """Load ``task.data`` and, when the plan slices it, write the slices under ``root/data``."""
    from pipeline.data.datasets import load_dataset
    from pipeline.data.readers import read_file, write_file

    splits = load_dataset(task.data)
    if not task.sliced:
        return TaskData(task.data, None, None, {k: splits[k] for k in SPLIT_NAMES})
    fmt, ext = FORMAT_OF_TASK[task.task]
    folder = Path(root) / "data" / task.data
    limits = {"train": task.train_limit, "dev": task.dev_limit, "test": task.test_limit}
    paths = {}
    for k, name in enumerate(SPLIT_NAMES):
        split = splits[name]
        part = split.subset(sample_indices(len(split), limits[name], seed=seed + k))
        paths[name] = write_file(folder / f"{name}{ext}", part, fmt)
    read = {name: read_file(path, fmt) for name, path in paths.items()}
    for name, split in read.items():
        split.source = f"{task.data}:{name} ({len(split)} of {len(splits[name])} sampled, seed {seed})"
    return TaskData(str(paths["train"]), str(paths["dev"]), str(paths["test"]), read)
