"""Question 3: is a bidirectional RNN worth it for text classification?

Answered from the grid of question 1 only. For each cell the bidirectional model
is paired with its unidirectional twin on the same test items: accuracy gain in
points with a 95% paired-bootstrap interval (items resampled together, so the
interval reflects the test set's size), latency ratio (p50, batch 1, 1 thread),
parameter and epoch-time ratios. The same is computed for tagging as the contrast,
and a short paragraph states the verdict with the numbers.

>>> a = np.array([1, 1, 0, 1, 0, 1, 1, 1]); b = np.array([1, 0, 0, 1, 0, 1, 0, 1])
>>> lo, hi = paired_bootstrap(a, b, np.ones(8), rounds=200, seed=0)
>>> bool(lo <= 0.25 <= hi)
True
"""

from __future__ import annotations

import numpy as np

TASK_WORDS = {"tagging": ("tagging", "tagger", "tokens"), "classification": ("classification", "classifier", "texts")}


def paired_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, weight: np.ndarray, *, rounds: int = 1000,
                     seed: int = 0) -> tuple[float, float]:
    """95% interval of ``accuracy(a) - accuracy(b)`` (fractions) over resampled test items."""
    correct_a, correct_b, weight = (np.asarray(x, dtype=np.float64) for x in (correct_a, correct_b, weight))
    rng = np.random.default_rng(seed)
    n = len(weight)
    diffs = np.empty(rounds)
    for r in range(rounds):
        idx = rng.integers(0, n, n)
        w = weight[idx].sum()
        diffs[r] = (correct_a[idx].sum() - correct_b[idx].sum()) / max(w, 1.0)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), float(hi)


def pairs(rows: list[dict], measured: dict, task: str, *, seed: int = 0) -> list[dict]:
    """One entry per cell that has both directions in ``rows`` for ``task``."""
    by = {(r["cell"], r["bidirectional"]): r for r in rows if r["task"] == task}
    out = []
    for (cell, bi), bi_row in by.items():
        if not bi or (cell, False) not in by:
            continue
        uni_row = by[(cell, False)]
        mb, mu = measured[bi_row["name"]], measured[uni_row["name"]]
        lo, hi = paired_bootstrap(mb.correct, mu.correct, mu.weight, seed=seed)
        out.append({
            "cell": cell,
            "uni": uni_row["name"],
            "bi": bi_row["name"],
            "uni_accuracy": uni_row["test_accuracy_onnx"],
            "bi_accuracy": bi_row["test_accuracy_onnx"],
            "gain_points": 100 * (bi_row["test_accuracy_onnx"] - uni_row["test_accuracy_onnx"]),
            "gain_ci95_points": [100 * lo, 100 * hi],
            "latency_ratio": bi_row["latency_p50_ms"] / uni_row["latency_p50_ms"],
            "uni_latency_ms": uni_row["latency_p50_ms"],
            "bi_latency_ms": bi_row["latency_p50_ms"],
            "parameter_ratio": bi_row["parameters"] / uni_row["parameters"],
            "epoch_time_ratio": bi_row["seconds_per_epoch"] / uni_row["seconds_per_epoch"],
        })
    return out


def _signed(x: float) -> str:
    return f"{x:+.1f}"


def _summary(task: str, ps: list[dict]) -> dict:
    gains = [p["gain_points"] for p in ps]
    significant = [p for p in ps if p["gain_ci95_points"][0] > 0 or p["gain_ci95_points"][1] < 0]
    return {
        "task": task,
        "mean_gain_points": float(np.mean(gains)) if gains else None,
        "mean_latency_ratio": float(np.mean([p["latency_ratio"] for p in ps])) if ps else None,
        "cells_with_significant_gain": [p["cell"] for p in significant if p["gain_points"] > 0],
        "cells_with_significant_loss": [p["cell"] for p in significant if p["gain_points"] < 0],
        "pairs": ps,
    }


def _sentence(task: str, s: dict, items: int) -> str:
    word, role, unit = TASK_WORDS[task]
    parts = ", ".join(
        f"{p['cell']} {_signed(p['gain_points'])} [{_signed(p['gain_ci95_points'][0])}, "
        f"{_signed(p['gain_ci95_points'][1])}]" for p in s["pairs"])
    lat = ", ".join(f"{p['latency_ratio']:.2f}x" for p in s["pairs"])
    return (f"For {word} ({items:,} test {unit}) the bidirectional {role} changed test accuracy by {parts} "
            f"points (95% paired-bootstrap intervals), {_signed(s['mean_gain_points'])} on average, "
            f"at {lat} the unidirectional latency (mean {s['mean_latency_ratio']:.2f}x; ORT p50, batch 1, "
            f"1 thread, median-length test sentence).")


def answer(rows: list[dict], measured: dict, *, seed: int = 0) -> dict:
    """The verdict for classification, tagging as the contrast, and the paragraph."""
    out: dict = {}
    sentences = []
    for task in ("classification", "tagging"):
        ps = pairs(rows, measured, task, seed=seed)
        if not ps:
            continue
        out[task] = _summary(task, ps)
        items = next(r["test_items"] if task == "classification" else r["test_tokens"]
                     for r in rows if r["task"] == task)
        sentences.append(_sentence(task, out[task], items))
    cls = out.get("classification")
    if cls:
        params = np.mean([p["parameter_ratio"] for p in cls["pairs"]])
        if cls["cells_with_significant_gain"] and cls["mean_gain_points"] > 0:
            verdict = (f"Verdict: worth it where the gain is outside the noise "
                       f"({', '.join(cls['cells_with_significant_gain'])}), if the application can pay "
                       f"{cls['mean_latency_ratio']:.1f}x the latency.")
            cls["worth_it"] = True
        else:
            verdict = ("Verdict: not worth it here. No cell gains accuracy beyond the noise of the test set, "
                       f"while the bidirectional classifiers cost {cls['mean_latency_ratio']:.1f}x the latency "
                       f"on average and {params:.2f}x the parameters (the recurrent weights double, the embedding "
                       "table stays the same): the last forward state has already read the whole text, and the "
                       "backward pass only adds a second reading of it.")
            cls["worth_it"] = False
        tag = out.get("tagging")
        if tag:
            gain = _signed(tag["mean_gain_points"])
            if tag["cells_with_significant_gain"] and tag["mean_gain_points"] > 0:
                verdict += (f" Tagging is different: there the backward state carries the right context that "
                            f"a token's label depends on ({gain} points on average, outside the noise for "
                            f"{', '.join(tag['cells_with_significant_gain'])}).")
            elif tag["cells_with_significant_loss"]:
                verdict += (f" For tagging the bidirectional models did worse in this run ({gain} points on "
                            f"average; significantly for {', '.join(tag['cells_with_significant_loss'])}).")
            else:
                verdict += f" For tagging the bidirectional gain ({gain} points on average) is within the noise."
        sentences.append(verdict)
    out["paragraph"] = " ".join(sentences)
    return out
