"""PNG plots of an evaluation and a training run: confusion matrix, training curves.

Only numpy and matplotlib (Agg, no display needed) are imported, so ONNX Runtime
predictions can be plotted where TensorFlow is not installed. Figures are built
with :class:`matplotlib.figure.Figure` rather than ``pyplot``, so no global
figure state leaks between calls, and every PNG is written atomically (a temp
file beside the target, then ``os.replace``).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> plot_confusion([[5, 1], [2, 7]], ["neg", "pos"], d / "confusion.png").name
'confusion.png'
>>> plot_history({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}, d / "curve.png").read_bytes()[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # never switch the backend under a running pyplot session
    matplotlib.use("Agg")

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.artifacts import atomic_path
from pipeline.errors import RnnxError

__all__ = ["PlotError", "plot_confusion", "plot_history"]

#: Cells are annotated with their value up to this many labels.
ANNOTATE_MAX_LABELS = 20
#: Beyond this many labels the tick labels are left out (they would overlap).
TICK_LABELS_MAX = 150
_NOT_METRICS = {"lr", "learning_rate", "epoch"}


class PlotError(RnnxError, ValueError):
    """The data handed to a plot function cannot be drawn."""


# ----------------------------------------------------------------------------- confusion


def plot_confusion(
    report_or_matrix,
    labels: Sequence[str] | None,
    path: Path | str,
    *,
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Path:
    """Draw a confusion matrix (rows gold, columns predicted) as a PNG at ``path``.

    ``report_or_matrix`` is a report from :mod:`pipeline.scoring.metrics` (its
    ``confusion`` entry is used), a ``{"labels", "matrix"}`` dict, or a square
    matrix of counts. ``labels`` names the matrix rows; with a report it may be
    ``None`` (use the report's order) or a subset/reordering of its labels.
    ``normalize`` divides each row by its gold count (so the diagonal shows
    recall); rows without gold items stay 0. The figure and font scale with the
    number of labels; cells are annotated up to 20 labels. Returns ``path``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cm.png"
    >>> report = {"confusion": {"labels": ["a", "b"], "matrix": [[3, 1], [0, 4]]}}
    >>> plot_confusion(report, None, p, normalize=False).stat().st_size > 1000
    True
    """
    path = _png_path(path)
    names, counts = _confusion_input(report_or_matrix, labels)
    n = len(names)
    if n == 0:
        raise PlotError("the confusion matrix is empty; score at least one item before plotting")
    values = counts.astype(float)
    if normalize:
        rows = values.sum(axis=1, keepdims=True)
        values = np.divide(values, rows, out=np.zeros_like(values), where=rows > 0)

    side = float(np.clip(3.0 + 0.26 * n, 5.0, 20.0))
    tick_font = float(np.clip(10.0 - 0.08 * max(n - 12, 0), 5.0, 10.0))
    fig = Figure(figsize=(side + 1.2, side), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(float(values.max()), 1.0)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest", aspect="equal")
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, shrink=0.8 if n > ANNOTATE_MAX_LABELS else 1.0)
    cbar.ax.tick_params(labelsize=tick_font)
    cbar.set_label("share of gold row" if normalize else "count", fontsize=tick_font + 1)

    if n <= TICK_LABELS_MAX:
        ax.set_xticks(np.arange(n), labels=names, rotation=90 if n > 6 else 0, fontsize=tick_font)
        ax.set_yticks(np.arange(n), labels=names, fontsize=tick_font)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("predicted", fontsize=tick_font + 2)
    ax.set_ylabel("gold", fontsize=tick_font + 2)
    ax.set_title(f"{title}{' (rows normalised)' if normalize else ''}", fontsize=max(tick_font + 3, 9))

    if n <= ANNOTATE_MAX_LABELS:
        cell_font = float(np.clip(11.0 - 0.25 * n, 6.0, 10.0))
        for i in range(n):
            for j in range(n):
                if counts[i, j] == 0:
                    continue  # blank zero cells keep the pattern readable
                text = f"{values[i, j]:.2f}" if normalize else f"{int(counts[i, j])}"
                color = "white" if values[i, j] > 0.55 * vmax else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=cell_font, color=color)
    return _save(fig, path)


def _confusion_input(obj, labels) -> tuple[list[str], np.ndarray]:
    """Labels and a square int matrix from a report, a confusion dict or a matrix."""
    if isinstance(obj, Mapping):
        conf = obj.get("confusion", obj)
        if not isinstance(conf, Mapping) or "matrix" not in conf or "labels" not in conf:
            raise PlotError("pass a metrics report, a {'labels', 'matrix'} dict or a square matrix with labels")
        names = [str(x) for x in conf["labels"]]
        counts = _square(conf["matrix"], len(names))
        if labels is None:
            return names, counts
        index = {name: i for i, name in enumerate(names)}
        missing = [str(x) for x in labels if str(x) not in index]
        if missing:
            raise PlotError(f"labels {missing} are not in the report's confusion matrix (it has {names})")
        keep = [index[str(x)] for x in labels]
        return [names[i] for i in keep], counts[np.ix_(keep, keep)]
    if labels is None:
        raise PlotError("a bare matrix needs labels: plot_confusion(matrix, ['a', 'b', ...], path)")
    names = [str(x) for x in labels]
    return names, _square(obj, len(names))


def _square(matrix, n: int) -> np.ndarray:
    counts = np.asarray(matrix)
    if counts.size == 0 and n == 0:
        return np.zeros((0, 0), dtype=np.int64)
    if counts.shape != (n, n):
        raise PlotError(f"the confusion matrix has shape {counts.shape} but there are {n} labels; pass {n}x{n} counts")
    if not np.issubdtype(counts.dtype, np.number) or not np.all(np.isfinite(counts)) or (counts < 0).any():
        raise PlotError("the confusion matrix must hold non-negative finite counts")
    return counts


# ----------------------------------------------------------------------------- history


def plot_history(history: Mapping[str, Sequence[float]], path: Path | str, title: str = "Training history") -> Path:
    """Draw training curves as a PNG at ``path``: loss on the left, accuracy-like metrics on the right.

    ``history`` maps a Keras metric name to one value per epoch (as in
    ``History.history`` or the CSV log): ``loss``, ``accuracy``, ... for the
    training set and ``val_loss``, ``val_accuracy``, ... for validation. Each
    training series is solid, its ``val_`` twin dashed in the same colour; the
    best ``val_loss`` epoch is marked. ``lr``/``learning_rate`` are ignored.
    Returns ``path``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "curve.png"
    >>> h = {"loss": [1.2, 0.8, 0.6], "accuracy": [0.6, 0.7, 0.8],
    ...      "val_loss": [1.1, 0.9, 0.95], "val_accuracy": [0.55, 0.65, 0.7]}
    >>> plot_history(h, p).exists()
    True
    """
    path = _png_path(path)
    if not isinstance(history, Mapping):
        raise PlotError(f"history must be a dict of metric name -> per-epoch values, got {type(history).__name__}")
    series = {}
    for key, values in history.items():
        if str(key) in _NOT_METRICS:
            continue
        try:
            arr = np.asarray(values, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise PlotError(f"history[{key!r}] must be a list of numbers, one per epoch") from None
        if arr.size:
            series[str(key)] = np.where(np.isfinite(arr), arr, np.nan)
    if not series:
        raise PlotError("history has no per-epoch values to plot; train for at least one epoch")

    bases = []
    for key in series:
        base = key[4:] if key.startswith("val_") else key
        if base not in bases:
            bases.append(base)
    loss_bases = [b for b in bases if b == "loss" or b.endswith("_loss")]
    other_bases = [b for b in bases if b not in loss_bases]
    epochs = max(len(v) for v in series.values())

    fig = Figure(figsize=(11, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_metric = fig.subplots(1, 2, sharex=True)
    colors = matplotlib.colormaps["tab10"].colors
    for ax, group, ylabel in ((ax_loss, loss_bases, "loss"), (ax_metric, other_bases, "metric")):
        for k, base in enumerate(group):
            color = colors[k % len(colors)]
            for key, style, who in ((base, "-", "train"), (f"val_{base}", "--", "val")):
                if key in series:
                    y = series[key]
                    ax.plot(np.arange(1, len(y) + 1), y, style, color=color, marker="o" if len(y) <= 30 else None,
                            markersize=3, label=f"{who} {base}")
        if group:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no {ylabel} recorded", ha="center", va="center", transform=ax.transAxes, color="gray")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    if "val_loss" in series and np.isfinite(series["val_loss"]).any():
        best = int(np.nanargmin(series["val_loss"]))
        ax_loss.axvline(best + 1, color="gray", linewidth=0.8, linestyle=":")
        ax_loss.annotate(f"best val_loss {series['val_loss'][best]:.4f} (epoch {best + 1})", (best + 1, 0.97),
                         xycoords=("data", "axes fraction"), fontsize=8, color="gray", ha="left", va="top")
    ax_loss.set_xlim(0.5, epochs + 0.5)
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_title("loss")
    ax_metric.set_title("accuracy and other metrics")
    fig.suptitle(title)
    return _save(fig, path)


# ----------------------------------------------------------------------------- writing


def _png_path(path: Path | str) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise PlotError(f"{path}: plots are written as PNG; give a path ending in .png")
    return path


def _save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (temp file beside it, then rename)."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return path
