"""Plots: valid PNGs, written atomically, for small and large label sets."""

from __future__ import annotations

import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

from pipeline.scoring.metrics import classification_report, tagging_report
from pipeline.train.plots import PlotError, plot_confusion, plot_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    assert data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"), f"{path} is truncated"
    return struct.unpack(">II", data[16:24])


def only_file(folder):
    """The single file in ``folder``: no temp files are left beside the plot."""
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 1, f"expected one file, found {files}"
    return folder / files[0]


def random_confusion(n, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 4, (n, n))
    m[np.arange(n), np.arange(n)] += rng.integers(10, 100, n)
    return m


UPOS = ["NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X"]


def test_confusion_from_a_tagging_report(tmp_path):
    report = tagging_report([["DET", "NOUN", "VERB"], ["NOUN", "VERB"]], [["DET", "VERB", "VERB"], ["NOUN", "NOUN"]])
    out = plot_confusion(report, None, tmp_path / "test_confusion.png", title="test")
    assert out == tmp_path / "test_confusion.png"
    assert only_file(tmp_path) == out
    w, h = png_size(out)
    assert w >= 400 and h >= 400
    assert out.stat().st_size > 5_000


@pytest.mark.parametrize("n", [12, 50])
def test_confusion_scales_with_the_label_count(tmp_path, n):
    labels = UPOS if n == 12 else [f"tag{i:02d}-tl" for i in range(n)]
    out = plot_confusion(random_confusion(n), labels, tmp_path / "cm.png")
    w, h = png_size(out)
    assert out.stat().st_size > 20_000
    if n == 50:  # large sets get a larger canvas so tick labels do not overlap
        small = plot_confusion(random_confusion(12), UPOS, tmp_path / "small.png")
        assert w > png_size(small)[0] and h > png_size(small)[1]


def test_confusion_counts_and_normalized_differ(tmp_path):
    m = [[30, 2], [5, 1]]
    a = plot_confusion(m, ["x", "y"], tmp_path / "a.png", normalize=True).read_bytes()
    b = plot_confusion(m, ["x", "y"], tmp_path / "b.png", normalize=False).read_bytes()
    assert a != b


def test_confusion_with_empty_gold_row_does_not_warn(tmp_path):
    report = classification_report(["a", "a"], ["a", "b"])  # row "b" has no gold items
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = plot_confusion(report, None, tmp_path / "cm.png")
    png_size(out)


def test_confusion_label_subset_of_a_report(tmp_path):
    report = classification_report(["a", "b", "c"], ["a", "c", "c"])
    out = plot_confusion(report, ["c", "a"], tmp_path / "cm.png")
    png_size(out)
    with pytest.raises(PlotError, match=r"\['z'\] are not in the report"):
        plot_confusion(report, ["z"], tmp_path / "bad.png")


@pytest.mark.parametrize(
    "matrix, labels, message",
    [
        ([[1, 2], [3, 4]], None, "bare matrix needs labels"),
        ([[1, 2], [3, 4]], ["a"], r"shape \(2, 2\) but there are 1 labels"),
        ([[1, -2], [3, 4]], ["a", "b"], "non-negative"),
        ([], [], "empty"),
        ({"loss": [1.0]}, None, "pass a metrics report"),
    ],
)
def test_confusion_bad_input_is_explained(tmp_path, matrix, labels, message):
    with pytest.raises(PlotError, match=message):
        plot_confusion(matrix, labels, tmp_path / "cm.png")
    assert list(tmp_path.iterdir()) == []


def test_history_png(tmp_path):
    history = {"loss": [1.2, 0.8, 0.6], "accuracy": [0.6, 0.7, 0.8], "val_loss": [1.1, 0.9, 0.95],
               "val_accuracy": [0.55, 0.65, 0.7], "learning_rate": [1e-3] * 3}
    out = plot_history(history, tmp_path / "training_curve.png", title="pos: lstm")
    assert only_file(tmp_path) == out
    w, h = png_size(out)
    assert w > h  # two side-by-side subplots
    assert out.stat().st_size > 10_000


def test_history_with_loss_only_and_non_finite_values(tmp_path):
    out = plot_history({"loss": [1.0, float("nan"), 0.5], "val_loss": [1.0, float("inf"), 0.7]}, tmp_path / "c.png")
    png_size(out)


@pytest.mark.parametrize(
    "history, message",
    [
        ({}, "no per-epoch values"),
        ({"loss": []}, "no per-epoch values"),
        ({"loss": ["high", "low"]}, "must be a list of numbers"),
        ([1.0, 2.0], "must be a dict"),
    ],
)
def test_history_bad_input_is_explained(tmp_path, history, message):
    with pytest.raises(PlotError, match=message):
        plot_history(history, tmp_path / "c.png")
    assert list(tmp_path.iterdir()) == []


def test_plots_must_be_png(tmp_path):
    with pytest.raises(PlotError, match="ending in .png"):
        plot_history({"loss": [1.0]}, tmp_path / "curve.jpg")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = plot_history({"loss": [1.0, 0.5]}, tmp_path / "curve.png")
    before = target.read_bytes()

    def broken_savefig(self, fname, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(PNG_SIGNATURE + b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot_history({"loss": [3.0, 2.0, 1.0]}, target)
    assert target.read_bytes() == before
    assert only_file(tmp_path) == target


def test_overwrites_an_existing_plot(tmp_path):
    target = plot_history({"loss": [1.0, 0.5]}, tmp_path / "curve.png")
    before = target.read_bytes()
    plot_history({"loss": [9.0, 1.0, 0.1, 0.01]}, target)
    assert target.read_bytes() != before
    assert only_file(tmp_path) == target


def test_plots_module_uses_agg_without_pyplot_or_tensorflow():
    code = ("import sys, matplotlib, pipeline.train.plots; "
            "assert matplotlib.get_backend().lower() == 'agg', matplotlib.get_backend(); "
            "bad = [m for m in ('tensorflow', 'keras', 'matplotlib.pyplot') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
