"""Question 1: SimpleRNN vs LSTM vs GRU, uni- vs bidirectional, for tagging and classification.

Each configuration of the plan is trained with :func:`pipeline.train.fit.train`
(``ROOT/saved_models/NAME``), exported with the fused engine
(``ROOT/export/NAME``) and measured:

* test accuracy (Keras, from ``metrics.json``) and the same accuracy recomputed from
  ONNX Runtime predictions of the whole test split (the per-item correctness is
  kept for the paired comparisons of question 3);
* trainable + non-trainable parameters (``model.count_params()``);
* training seconds per epoch: ``model.fit`` wall time / epochs run (each epoch
  includes its validation pass on the dev split);
* ORT latency: fused ``model.onnx``, 1 thread, batch 1, the held-out (test)
  sentence whose length is the median length, p50/p90 over repeated calls.

Example::

    rows, measured = run_grid(plan_for(quick=True), data, "experiments/quick")
    rows[0]["test_accuracy"], rows[0]["latency_p50_ms"]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.experiment.plan import Plan, TaskPlan, spec_for
from pipeline.experiment.slices import TaskData


def run_name(data: str, cell: str, bidirectional: bool) -> str:
    """``brown-upos-bilstm``, ``mr-gru``, ...

    >>> run_name("mr", "gru", False), run_name("brown-upos", "simplernn", True)
    ('mr-gru', 'brown-upos-bisimplernn')
    """
    return f"{data}-{'bi' if bidirectional else ''}{cell}"


@dataclass
class Measured:
    """One trained and exported configuration, kept in memory for questions 2-4."""

    name: str
    run_path: Path
    export_path: Path
    correct: np.ndarray  # per test item: correct tokens (tagging) or 0/1 (classification)
    weight: np.ndarray  # per test item: tokens (tagging) or 1


def train_config(task: TaskPlan, data: TaskData, cell: str, bidirectional: bool, root: Path, *,
                 seed: int, verbose: int = 0) -> Path:
    from pipeline.train.fit import train

    spec = spec_for(task, run_name(task.data, cell, bidirectional), data=data.data, dev=data.dev, test=data.test,
                    cell=cell, bidirectional=bidirectional, seed=seed, verbose=verbose)
    return train(spec, root=root / "saved_models", force=True)


def median_sentence(ids: list[list[int]]) -> list[int]:
    """The first held-out sequence whose length is the median length (nearest when none is).

    >>> median_sentence([[1, 2, 3], [4], [5, 6], [7, 8, 9, 9]])
    [5, 6]
    """
    from pipeline.check.bench import pick_batch

    lengths = [len(s) for s in ids]
    target = int(np.median(lengths))
    return ids[pick_batch(lengths, target, 1)[0]]


def recurrent_parameters(model) -> int:
    """Weights of the recurrent layers alone (the embedding table dominates the total)."""
    import keras

    return int(sum(layer.count_params() for layer in model.layers
                   if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))))


def ort_latency(model_path: Path | str, ids, *, budget_s: float) -> dict:
    """p50/p90 latency of one encoded sequence (:mod:`pipeline.data.features`) at batch 1, ORT on 1 thread.

    Every graph output is computed (a CRF tagger's Viterbi decode included).
    """
    from pipeline.data.features import as_feeds, collate
    from pipeline.check.bench import latency_stats, time_calls
    from pipeline.runtime.session import make_session

    sess = make_session(model_path, threads=1)
    feed = as_feeds(collate([ids]))
    stats = latency_stats(time_calls(lambda: sess.run(None, feed), budget_s=budget_s, warmup=5, min_calls=20),
                          len(ids))
    return {"p50_ms": stats["p50_ms"], "p90_ms": stats["p90_ms"], "calls": stats["calls"], "tokens": len(ids)}


def ort_correctness(export_path: Path | str, split) -> tuple[np.ndarray, np.ndarray]:
    """Per test item: (correct count, item weight) from ONNX Runtime predictions (all cores).

    A CRF tagger's labels are the graph's Viterbi ``tags``; otherwise the most probable label.
    """
    from pipeline.data.features import collate
    from pipeline.runtime.batches import run_batched
    from pipeline.runtime.session import load
    from pipeline.scoring.accuracy import correct_counts

    model = load(export_path)
    encoded = model.encoder.encode_all(split.tokens)
    if model.has_tags:
        paths = run_batched(model.run_tags, encoded, task=split.task, batch_size=64, collate=collate)
    else:
        probs = run_batched(model.run, encoded, task=split.task, batch_size=64, collate=collate)
        paths = [p.argmax(-1) for p in probs]
    return correct_counts(paths, split.labels, model.labels.names, split.task)


def measure_config(task: TaskPlan, data: TaskData, run_path: Path, export_path: Path, *,
                   budget_s: float) -> tuple[dict, Measured]:
    from pipeline.artifacts import read_json
    from pipeline.train.rundir import load_run

    run = load_run(run_path)
    cfg = run.model_config
    metrics = read_json(run.files.metrics)
    test, dev = metrics["test"], metrics["dev"]
    model_path = export_path / "model.onnx"
    split = data.splits["test"]
    encoded = run.encoder.encode_all(split.tokens)
    latency = ort_latency(model_path, median_sentence(encoded), budget_s=budget_s)
    correct, weight = ort_correctness(export_path, split)
    row = {
        "name": run_path.name,
        "data": task.data,
        "task": task.task,
        "cell": cfg.cell,
        "bidirectional": cfg.bidirectional,
        "model": cfg.describe(),
        "parameters": int(run.model.count_params()),
        "recurrent_parameters": recurrent_parameters(run.model),
        "epochs_run": int(metrics["epochs_run"]),
        "train_seconds": float(metrics["train_seconds"]),
        "seconds_per_epoch": float(metrics["train_seconds"]) / max(1, int(metrics["epochs_run"])),
        "dev_accuracy": float(dev["accuracy"]),
        "test_accuracy": float(test["accuracy"]),
        "test_accuracy_onnx": float(correct.sum() / max(1, weight.sum())),
        "test_items": int(len(split)),
        "test_tokens": int(split.num_tokens),
        "test_oov_accuracy": (test.get("out_of_vocab") or {}).get("accuracy"),
        "test_oov_share": (test.get("out_of_vocab") or {}).get("share"),
        "test_macro_f1": test.get("macro_f1"),
        "test_entity_f1": (test.get("entities") or {}).get("f1"),  # BIO tag sets (conlleval chunks)
        "latency_p50_ms": latency["p50_ms"],
        "latency_p90_ms": latency["p90_ms"],
        "latency_tokens": latency["tokens"],
        "vocab_size": run.vocab.size,
        "run": str(run_path),
        "export": str(export_path),
    }
    return row, Measured(run_path.name, run_path, export_path, correct, weight)


def run_grid(plan: Plan, data: dict[str, TaskData], root: Path | str, *,
             log: Callable[[str], None] = print, verbose: int = 0) -> tuple[list[dict], dict[str, Measured]]:
    """Train, export and measure every configuration of ``plan``; rows in plan order."""
    from pipeline.export.exporter import export_run

    root = Path(root)
    configs = plan.configs()
    rows, measured = [], {}
    for k, (name, cell, bi) in enumerate(configs, 1):
        task = plan.task(name)
        started = time.perf_counter()
        run_path = train_config(task, data[name], cell, bi, root, seed=plan.seed, verbose=verbose)
        export_path = export_run(run_path, out_root=root / "export", engine="fused", text=False, force=True).folder
        row, m = measure_config(task, data[name], run_path, export_path, budget_s=plan.latency_budget_s)
        row["wall_seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        measured[row["name"]] = m
        log(f"[{k}/{len(configs)}] {row['name']:<24} test acc {row['test_accuracy']:.4f} "
            f"(ORT {row['test_accuracy_onnx']:.4f}), {row['parameters']:,} params, "
            f"{row['seconds_per_epoch']:.1f} s/epoch x {row['epochs_run']}, "
            f"ORT p50 {row['latency_p50_ms']:.3f} ms, {row['wall_seconds']:.0f} s in all")
    return rows, measured
