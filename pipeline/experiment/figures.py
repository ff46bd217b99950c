"""The experiment's PNG figures (matplotlib Agg, written atomically).

* :func:`plot_grid` -- per task: test accuracy, parameters, seconds per epoch and
  ORT latency of each configuration, side by side;
* :func:`plot_tradeoff` -- test accuracy against ORT latency, one panel per task;
* :func:`plot_probes` -- probe accuracy for the current / previous / next tag per
  tagger and feature set, with the majority baseline.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"task": "tagging", "cell": c, "bidirectional": b, "name": f"{'bi' if b else ''}{c}",
...          "test_accuracy": 0.9, "parameters": 10, "seconds_per_epoch": 1.0, "latency_p50_ms": 0.5}
...         for c in ("lstm", "gru") for b in (False, True)]
>>> plot_grid(rows, "tagging", d / "grid.png").name, plot_tradeoff(rows, d / "t.png").name
('grid.png', 't.png')
"""

from __future__ import annotations

from pathlib import Path

import pipeline.train.plots  # noqa: F401  (selects the Agg backend unless pyplot is already running)
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.artifacts import atomic_path

CELL_COLORS = {"simplernn": "#4C72B0", "lstm": "#DD8452", "gru": "#55A868"}
TASK_TITLES = {"tagging": "tagging (brown-upos)", "classification": "classification (mr)"}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return path


def _short(v: float) -> str:
    """3 significant digits: ``0.0284``, ``31.5``, ``1,234``."""
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _label(row: dict) -> str:
    from pipeline.models.config import CELL_TITLES

    return ("Bi" if row["bidirectional"] else "") + CELL_TITLES[row["cell"]]


def plot_grid(rows: list[dict], task: str, path: Path | str) -> Path:
    """Four bar panels for the runs of ``task``."""
    rows = [r for r in rows if r["task"] == task]
    panels = [("test_accuracy", "test accuracy", 100.0), ("parameters", "parameters (thousands)", 1e-3),
              ("seconds_per_epoch", "training s / epoch", 1.0),
              ("latency_p50_ms", "ORT p50 ms (batch 1, 1 thread)", 1.0)]
    fig = _figure(14, 3.6)
    axes = fig.subplots(1, len(panels))
    names = [_label(r) for r in rows]
    colors = [CELL_COLORS[r["cell"]] for r in rows]
    hatches = ["//" if r["bidirectional"] else "" for r in rows]
    for ax, (key, title, scale) in zip(axes, panels):
        values = [r[key] * scale for r in rows]
        bars = ax.bar(range(len(rows)), values, color=colors, edgecolor="black", linewidth=0.5)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
        ax.set_xticks(range(len(rows)), names, rotation=35, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        if key == "test_accuracy" and values:
            low, high = min(values), max(values)
            ax.set_ylim(max(0.0, low - max(2.0, (high - low))), min(100.0, high + max(1.0, (high - low) / 2)))
        for i, v in enumerate(values):
            ax.text(i, v, _short(v), ha="center", va="bottom", fontsize=7)
    fig.suptitle(TASK_TITLES.get(task, task))
    return _save(fig, Path(path))


def plot_tradeoff(rows: list[dict], path: Path | str) -> Path:
    """Test accuracy (y) against ORT p50 latency (x), uni circles, bi triangles."""
    tasks = [t for t in TASK_TITLES if any(r["task"] == t for r in rows)]
    fig = _figure(6 * max(1, len(tasks)), 4)
    axes = fig.subplots(1, max(1, len(tasks)), squeeze=False)[0]
    for ax, task in zip(axes, tasks):
        for r in (r for r in rows if r["task"] == task):
            ax.scatter(r["latency_p50_ms"], 100 * r["test_accuracy"], color=CELL_COLORS[r["cell"]],
                       marker="^" if r["bidirectional"] else "o", s=60, edgecolor="black", linewidth=0.5)
            ax.annotate(_label(r), (r["latency_p50_ms"], 100 * r["test_accuracy"]), fontsize=8,
                        xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("ORT latency p50, ms (batch 1, 1 thread, median-length sentence)")
        ax.set_ylabel("test accuracy, %")
        ax.set_title(TASK_TITLES[task])
        ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def plot_probes(probes: list[dict], path: Path | str) -> Path:
    """One panel per target (current / previous / next tag); bars per tagger and feature set."""
    from pipeline.experiment.probe import TARGETS

    feature_names = ["embedding", "state", "forward half", "backward half"]
    colors = {"embedding": "#BBBBBB", "state": "#4C72B0", "forward half": "#DD8452", "backward half": "#55A868"}
    fig = _figure(15, 4)
    axes = fig.subplots(1, len(TARGETS), sharey=True)
    width = 0.2
    for ax, target in zip(axes, TARGETS):
        labelled = set()
        for i, p in enumerate(probes):
            for j, fname in enumerate(feature_names):
                if fname in p["features"]:
                    ax.bar(i + (j - 1.5) * width, 100 * p["features"][fname][target], width, color=colors[fname],
                           label=None if fname in labelled else fname)
                    labelled.add(fname)
            ax.hlines(100 * p["majority"][target], i - 0.45, i + 0.45, colors="black", linestyles="dashed",
                      label="majority class" if i == 0 else None)
        ax.set_xticks(range(len(probes)), [_label(p) for p in probes], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"probe: {target} tag", fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probe accuracy on held-out tokens, %")
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncol=len(labels))
    return _save(fig, Path(path))
