"""Published-class models: character CNN word features and a CRF output layer (Ma & Hovy 2016),
word dropout, and classifiers pooling over their states.

Each :class:`Variant` of the plan is trained on the same data as the grid, exported
with the fused engine, checked against Keras on the whole test split
(:func:`pipeline.check.parity.check_export`: probabilities, and for a CRF the
decoded tags, which must be identical) and measured like a grid run. The grid's
word-level model of the same task is the "before" of the out-of-vocabulary
comparison.

Example::

    rows = run_published(plan, data, "experiments/full", grid_rows)
    rows[0]["test_oov_accuracy"], rows[0]["parity"]["tags_differing"]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Variant:
    """One published-class configuration; unset sizes come from the task's grid settings."""

    data: str  # built-in dataset (a task of the plan)
    label: str  # "BiLSTM-CNN-CRF", "BiGRU, max-pooled", ...
    chars: bool = True
    crf: bool = False
    cell: str = "lstm"
    epochs: int | None = None
    units: int | None = None
    embedding_dim: int | None = None
    dropout: float | None = None
    learning_rate: float = 2e-3
    char_filters: int = 50
    word_dropout: float = 0.0
    pooling: str = "last"  # classifiers: "max" / "mean" pool the states (pipeline/models/pooling.py)
    seed: int | None = None  # None: the plan's seed; variants that differ only in seed form one family

    @property
    def family(self) -> str:
        """What the variant is, without its seed: ``brown-upos-bilstm-cnn-crf``, ...

        >>> Variant("brown-upos", "BiLSTM-CNN-CRF", crf=True).family
        'brown-upos-bilstm-cnn-crf'
        >>> Variant("mr", "BiGRU, max-pooled", chars=False, cell="gru", pooling="max", seed=1).family
        'mr-bigru-maxpool'
        """
        return (f"{self.data}-bi{self.cell}" + ("-cnn" if self.chars else "") + ("-crf" if self.crf else "")
                + ("-wd" if self.word_dropout else "") + (f"-{self.pooling}pool" if self.pooling != "last" else ""))

    @property
    def name(self) -> str:
        """The family, and the seed when the variant sets one.

        >>> Variant("mr", "BiGRU", chars=False, cell="gru", seed=2).name
        'mr-bigru-seed2'
        """
        return self.family + ("" if self.seed is None else f"-seed{self.seed}")


def train_variant(variant: Variant, task, data, root: Path, *, seed: int, verbose: int = 0) -> Path:
    from pipeline.models.config import ModelConfig
    from pipeline.train.fit import RunSpec, TrainOptions, train

    spec = RunSpec(
        name=variant.name, data=data.data, dev=data.dev, test=data.test,
        model=ModelConfig(task.task, variant.cell, bidirectional=True, units=variant.units or task.units,
                          embedding_dim=variant.embedding_dim or task.embedding_dim,
                          dropout=task.dropout if variant.dropout is None else variant.dropout,
                          word_dropout=variant.word_dropout, pooling=variant.pooling, chars=variant.chars,
                          char_filters=variant.char_filters, crf=variant.crf),
        options=TrainOptions(epochs=variant.epochs or task.epochs, batch_size=task.batch_size,
                             learning_rate=variant.learning_rate, min_freq=task.min_freq, patience=task.patience,
                             seed=seed, verbose=verbose),
    )
    return train(spec, root=root / "saved_models", force=True)


def parity_summary(report: dict) -> dict:
    """The figures of a parity report the experiment keeps."""
    held = report["heldout"]
    tags = held.get("crf_tags") or {}
    return {
        "passed": report["passed"],
        "max_abs_diff": held["max_abs_diff"],
        "label_agreement": held["label_agreement"],
        "sequences": held["sequences"],
        "tags_compared": tags.get("sequences_compared"),
        "tags_differing": tags.get("sequences_differing"),
        "random_max_abs_diff": report["random"]["max_abs_diff"],
        "random_tags_differing": (report["random"].get("crf_tags") or {}).get("sequences_differing"),
        "accuracy_keras": held["accuracy"]["keras"],
        "accuracy_onnxruntime": held["accuracy"]["onnxruntime"],
    }


def run_published(plan, data: dict, root: Path | str, *, log: Callable[[str], None] = print,
                  verbose: int = 0) -> list[dict]:
    """Train, export, check and measure every variant of ``plan.published``."""
    from pipeline.errors import ParityError
    from pipeline.experiment.grid import measure_config
    from pipeline.export.exporter import export_run
    from pipeline.check.parity import check_export

    root = Path(root)
    rows = []
    for k, variant in enumerate(plan.published, 1):
        task = plan.task(variant.data)
        started = time.perf_counter()
        run_path = train_variant(variant, task, data[variant.data], root,
                                 seed=plan.seed if variant.seed is None else variant.seed, verbose=verbose)
        export_path = export_run(run_path, out_root=root / "export", engine="fused", text=False).folder
        try:
            parity = check_export(export_path, random_count=4)
        except ParityError:  # recorded in parity.json and reported; the experiment goes on
            from pipeline.artifacts import read_json

            parity = read_json(export_path / "parity.json")["model.onnx"]
        row, _ = measure_config(task, data[variant.data], run_path, export_path, budget_s=plan.latency_budget_s)
        row.update(label=variant.label, family=variant.family, seed=variant.seed, chars=variant.chars,
                   crf=variant.crf, word_dropout=variant.word_dropout, pooling=variant.pooling,
                   parity=parity_summary(parity), wall_seconds=round(time.perf_counter() - started, 1))
        rows.append(row)
        log(f"[published {k}/{len(plan.published)}] {row['name']:<28} test acc {row['test_accuracy']:.4f} "
            f"(ORT {row['test_accuracy_onnx']:.4f}), OOV {_pct(row['test_oov_accuracy'])}, "
            f"parity {'passed' if parity['passed'] else 'FAILED'}, {row['wall_seconds']:.0f} s in all")
    return rows


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"
