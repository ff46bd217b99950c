"""Published-class models: character CNN word features and a CRF output layer (Ma & Hovy 2016),
word dropout, and classifiers pooling over their states.

Each :class:`~pipeline.experiment.plan.Variant` of the plan is trained on the same data as the grid, exported
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
from pathlib import Path
from typing import Callable

from pipeline.experiment.plan import Variant, spec_for


def train_variant(variant: Variant, task, data, root: Path, *, seed: int, lm: str | None = None,
                  verbose: int = 0) -> Path:
    """Train ``variant`` on ``data``; an ``lm`` variant reads the character LM run at ``lm``."""
    from pipeline.errors import ConfigError
    from pipeline.train.fit import train

    if variant.lm and not lm:
        raise ConfigError(f"variant {variant.name} reads a character LM; the plan pretrains none")
    spec = spec_for(task, variant.name, data=data.data, dev=data.dev, test=data.test, **variant.overrides(),
                    seed=seed, verbose=verbose, lm=str(lm) if variant.lm else None)
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


def run_variant(variant: Variant, task, data, root: Path | str, *, seed: int, budget_s: float,
                lm: str | None = None, verbose: int = 0) -> dict:
    """Train, export (fused), check against Keras and measure one variant; its row."""
    from pipeline.errors import ParityError
    from pipeline.experiment.grid import measure_config
    from pipeline.export.exporter import export_run
    from pipeline.check.parity import check_export

    root = Path(root)
    started = time.perf_counter()
    run_path = train_variant(variant, task, data, root, seed=seed if variant.seed is None else variant.seed, lm=lm,
                             verbose=verbose)
    export_path = export_run(run_path, out_root=root / "export", engine="fused", text=False, force=True).folder
    try:
        parity = check_export(export_path, random_count=4)
    except ParityError:  # recorded in parity.json and reported; the experiment goes on
        from pipeline.artifacts import read_json

        parity = read_json(export_path / "parity.json")["model.onnx"]
    row, _ = measure_config(task, data, run_path, export_path, budget_s=budget_s)
    row.update(label=variant.label, family=variant.family, seed=variant.seed, chars=variant.chars,
               crf=variant.crf, word_dropout=variant.word_dropout, pooling=variant.pooling, lm=variant.lm,
               parity=parity_summary(parity), wall_seconds=round(time.perf_counter() - started, 1))
    return row


def log_row(row: dict, where: str) -> str:
    """The one line the experiment prints for a trained variant."""
    return (f"[{where}] {row['name']:<28} test acc {row['test_accuracy']:.4f} "
            f"(ORT {row['test_accuracy_onnx']:.4f}), OOV {_pct(row['test_oov_accuracy'])}, "
            f"parity {'passed' if row['parity']['passed'] else 'FAILED'}, {row['wall_seconds']:.0f} s in all")


def run_published(plan, data: dict, root: Path | str, *, log: Callable[[str], None] = print,
                  verbose: int = 0) -> list[dict]:
    """Train, export, check and measure every variant of ``plan.published``."""
    rows = []
    for k, variant in enumerate(plan.published, 1):
        row = run_variant(variant, plan.task(variant.data), data[variant.data], root, seed=plan.seed,
                          budget_s=plan.latency_budget_s, verbose=verbose)
        rows.append(row)
        log(log_row(row, f"published {k}/{len(plan.published)}"))
    return rows


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"
