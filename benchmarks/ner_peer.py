"""rnnx taggers against a feature-based CRF on CoNLL-2003 English NER (``conll2003-ner``), one scorer.

* **CRF peer**: sklearn-crfsuite (CRFsuite, L-BFGS, elastic net) with hand-made word features
  (:mod:`pipeline.experiment.peers`, shared with ``rnnx experiment``):
  the word lowercased, its shape (``Xxxx``, ``dd``) and short shape, prefixes and suffixes of
  1-4 characters, is-title / is-upper / is-digit / has-hyphen, the same for the words at -2..+2
  (lowercased word, shape, title/upper), and BOS/EOS marks. Trained on the train split; ``c1``
  and ``c2`` are picked on dev from a small grid (``--c1``, ``--c2``); the best is scored on test.
* **rnnx rows**: taggers trained with the Python API (:func:`pipeline.train.fit.run_spec`,
  :func:`pipeline.train.fit.train`) on the same splits: (a) a BiLSTM, (b) a BiLSTM with
  character-CNN features and a CRF output (``chars=True, crf=True``), each with
  ``lowercase=True`` (rnnx's default) and ``lowercase=False``, ``--epochs`` at most with early
  stopping (``--patience``) on dev loss; the best epoch is scored on test.

Every row is scored by :func:`pipeline.scoring.metrics.tagging_report` (conlleval chunks: a
predicted entity counts only with the gold start, end and type). The rnnx rows take the test
report rnnx itself wrote into the run's ``metrics.json``.

sklearn-crfsuite is **not** an rnnx dependency (it is in the ``peers`` extra)::

    .venv/bin/pip install sklearn-crfsuite
    nice -n 10 .venv/bin/python benchmarks/ner_peer.py --out benchmarks/results/ner_peer.json

``--rows crf`` or ``--rows bilstm,bilstm-cased`` runs a subset; rows already in ``--out`` that
are not run again are kept (so rows can be run in separate processes). An rnnx row trained with
``--seed N`` other than 0 is named ``ROW-seedN``, beside the seed-0 row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# the features and the CRF live in the package: `rnnx experiment` trains the same peer
from pipeline.errors import RnnxError  # noqa: E402
from pipeline.experiment.peers import new_crf, sentence_features, shape, short_shape, word_features  # noqa: E402,F401

DATASET = "conll2003-ner"
# name -> the rnnx settings of that row (on top of task="tagging")
RNNX_ROWS = {
    "bilstm": {"lowercase": True},
    "bilstm-cased": {"lowercase": False},
    "bilstm-char-crf": {"chars": True, "crf": True, "lowercase": True},
    "bilstm-char-crf-cased": {"chars": True, "crf": True, "lowercase": False},
}
ROWS = ("crf", *RNNX_ROWS)


# ----------------------------------------------------------------------------- CRF peer


def crf_row(splits: dict, c1s: list[float], c2s: list[float], iterations: int) -> dict:
    """Train a CRF for every (c1, c2), keep the best on dev entity F1, score it on test."""
    from pipeline.scoring.metrics import tagging_report

    t0 = time.perf_counter()
    xs = {name: [sentence_features(s) for s in split.tokens] for name, split in splits.items()}
    feature_seconds = time.perf_counter() - t0
    grid, best = [], None
    for c1 in c1s:
        for c2 in c2s:
            try:
                crf = new_crf(c1, c2, iterations)
            except RnnxError as e:
                sys.exit(str(e))
            t = time.perf_counter()
            crf.fit(xs["train"], splits["train"].labels)
            seconds = time.perf_counter() - t
            dev = tagging_report(splits["dev"].labels, crf.predict(xs["dev"]))["entities"]
            grid.append({"c1": c1, "c2": c2, "dev_f1": dev["f1"], "train_seconds": round(seconds, 1)})
            print(f"crf c1={c1} c2={c2}: dev entity F1 {100 * dev['f1']:.2f} ({seconds:.0f} s)", flush=True)
            if best is None or dev["f1"] > best[0]:
                best = (dev["f1"], c1, c2, crf, seconds)
    _, c1, c2, crf, seconds = best
    t = time.perf_counter()
    pred = crf.predict(xs["test"])
    predict_seconds = time.perf_counter() - t
    test = tagging_report(splits["test"].labels, pred)
    dev = tagging_report(splits["dev"].labels, crf.predict(xs["dev"]))
    return {
        "row": "crf", "model": f"sklearn-crfsuite CRF (lbfgs, c1={c1}, c2={c2}, {iterations} iterations)",
        **_entity_summary(test, dev), "train_seconds": round(seconds, 1),
        "feature_seconds": round(feature_seconds, 1), "predict_seconds_test": round(predict_seconds, 2),
        "grid": grid, "seed": None, "note": "CRFsuite's L-BFGS is deterministic; no seed",
    }


# ----------------------------------------------------------------------------- rnnx rows


def rnnx_row(name: str, settings: dict, args) -> dict:
    from pipeline.artifacts import read_json
    from pipeline.train.fit import run_spec, train

    spec = run_spec(f"ner-{name}-seed{args.seed}", DATASET, task="tagging", epochs=args.epochs,
                    patience=args.patience, seed=args.seed, verbose=0 if args.quiet else 2, **settings)
    root = Path(args.models) if args.models else Path(tempfile.mkdtemp(prefix="rnnx-ner-"))
    run = train(spec, root=root, force=True)
    metrics = read_json(run / "metrics.json")
    config = read_json(run / "config.json")
    return {
        "row": name if args.seed == 0 else f"{name}-seed{args.seed}", "model": f"rnnx {spec.model.describe()}",
        "settings": {"task": "tagging", **settings}, **_entity_summary(metrics["test"], metrics["dev"]),
        "train_seconds": metrics["train_seconds"], "epochs_run": metrics["epochs_run"],
        "epochs_max": args.epochs, "patience": args.patience, "seed": args.seed,
        "vocab_size": config["model"]["vocab_size"], "run": str(run),
    }


def _entity_summary(test: dict, dev: dict) -> dict:
    ent = test["entities"]
    return {
        "test_f1": ent["f1"], "test_precision": ent["precision"], "test_recall": ent["recall"],
        "test_entities": {"gold": ent["support"], "predicted": ent["predicted"], "correct": ent["correct"]},
        "test_per_type_f1": {t: s["f1"] for t, s in ent["per_type"].items()},
        "test_token_accuracy": test["accuracy"], "dev_f1": dev["entities"]["f1"],
    }


# ----------------------------------------------------------------------------- report


def markdown(rows: list[dict]) -> str:
    lines = ["| row | test entity F1 | precision | recall | dev F1 | train s | epochs |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['row']} | {100 * r['test_f1']:.2f} | {100 * r['test_precision']:.2f} | "
                     f"{100 * r['test_recall']:.2f} | {100 * r['dev_f1']:.2f} | {r['train_seconds']:.0f} | "
                     f"{r.get('epochs_run', '-')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  nice -n 10 .venv/bin/python benchmarks/ner_peer.py --out benchmarks/results/ner_peer.json")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows to run (default: {','.join(ROWS)})")
    parser.add_argument("--c1", type=float, nargs="+", default=[0.05, 0.2], help="CRF L1 grid (default 0.05 0.2)")
    parser.add_argument("--c2", type=float, nargs="+", default=[0.01, 0.1], help="CRF L2 grid (default 0.01 0.1)")
    parser.add_argument("--crf-iterations", type=int, default=100, help="L-BFGS iterations (default 100)")
    parser.add_argument("--epochs", type=int, default=10, help="rnnx: most epochs (default 10)")
    parser.add_argument("--patience", type=int, default=3, help="rnnx: early-stopping patience (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="rnnx: training seed (default 0)")
    parser.add_argument("--models", help="rnnx: folder for the trained runs (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true", help="rnnx: no per-epoch lines")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ner_peer.json"), help="JSON report path")
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {', '.join(unknown)}; choose from {', '.join(ROWS)}")

    from pipeline.artifacts import write_json
    from pipeline.data.datasets import load_dataset

    splits = load_dataset(DATASET)
    for name in rows:
        row = crf_row(splits, args.c1, args.c2, args.crf_iterations) if name == "crf" else \
            rnnx_row(name, RNNX_ROWS[name], args)
        print(markdown([row]), flush=True)
        _merge(args.out, row, {k: {"sequences": len(v), "tokens": v.num_tokens} for k, v in splits.items()},
               write_json)
    report = json.loads(args.out.read_text(encoding="utf-8"))
    print(markdown(report["rows"]))
    print(f"\nwritten: {args.out}")
    return 0


def _merge(out: Path, row: dict, sizes: dict, write_json) -> None:
    """Put ``row`` into the report at ``out`` (replacing a row of the same name), keeping the others."""
    report = {"rows": []}
    if out.exists():
        try:
            report = json.loads(out.read_text(encoding="utf-8"))
        except ValueError:
            pass
    order = {name: i for i, name in enumerate(ROWS)}
    kept = [r for r in report.get("rows", []) if r.get("row") != row["row"]]
    order.update({r["row"]: order.get(r["row"].rsplit("-seed", 1)[0], 99) + 0.5 for r in kept + [row]
                  if "-seed" in r["row"]})
    report.update({
        "dataset": DATASET, "sizes": sizes, "scorer": "pipeline.scoring.metrics.tagging_report (conlleval chunks)",
        "cpu_count": os.cpu_count(), "rows": sorted(kept + [row], key=lambda r: order.get(r["row"], 99)),
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, report)


if __name__ == "__main__":
    sys.exit(main())
