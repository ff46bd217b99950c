"""The commands behind the README's character-LM rows, each trained with several seeds (issue 16's targets
are means over seeds).

Every row is one ``rnnx train`` command (``{lm}`` is the ``--lm`` run);
the script runs it once per ``--seeds`` value through the real CLI (a subprocess, ``--json``)
into ``--models``, reads the run's ``metrics.json`` and writes per seed and as a mean over
seeds: test accuracy, unknown-word (OOV) accuracy, entity F1 (conlleval chunks, for BIO
corpora), dev score, epochs run and training seconds.

Rows already in ``--out`` that are not run again are kept, so rows and seeds can be run in
separate processes; a (row, seed) pair run again replaces the old one.

    nice -n 10 .venv/bin/python benchmarks/char_lm_seeds.py --lm saved_models/brown-mr-lm128 \\
        --rows ner-lm mr-lm --seeds 0 1 2

>>> command("ner-lm", "saved_models/lm", 1)[:4]
['train', '--data', 'conll2003-ner', '--chars']
>>> summarize([{"test_accuracy": 0.5, "test_f1": None}, {"test_accuracy": 0.7, "test_f1": None}])
{'seeds': 2, 'test_accuracy': 0.6, 'test_f1': None}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.artifacts import write_json  # noqa: E402
BROWN_TAGGER = ["--data", "brown-upos", "--chars", "--crf", "--char-filters", "100", "--dropout", "0.5",
                "--word-dropout", "0.05", "--min-freq", "2", "--epochs", "12", "--patience", "3"]
NER_TAGGER = ["--data", "conll2003-ner", "--chars", "--crf", "--epochs", "10", "--patience", "3"]
MR_POOLED = ["--data", "mr", "--cell", "gru", "--units", "128", "--embedding-dim", "300", "--dropout", "0.7",
             "--pooling", "max"]
#: row -> its ``rnnx train`` flags (without --name, --seed, --root)
ROWS = {
    "brown": BROWN_TAGGER,
    "brown-lm": BROWN_TAGGER + ["--lm", "{lm}"],
    "ner": NER_TAGGER,
    "ner-lm": NER_TAGGER + ["--lm", "{lm}"],
    "mr": MR_POOLED,
    "mr-lm": MR_POOLED + ["--lm", "{lm}"],
}
SCORES = ("test_accuracy", "test_oov_accuracy", "test_f1", "dev_score")


def command(row: str, lm: str, seed: int) -> list[str]:
    """The ``rnnx`` argv of ``row`` with ``seed`` (``--name`` is ``ROW-seedN``)."""
    flags = [lm if f == "{lm}" else f for f in ROWS[row]]
    return ["train", *flags, "--name", f"{row}-seed{seed}", "--seed", str(seed)]


def run_one(row: str, lm: str, seed: int, models: Path) -> dict:
    argv = command(row, str(Path(lm).resolve()), seed)
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *argv, "--root", str(models), "--force", "--json"],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"rnnx {' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    run = models / f"{row}-seed{seed}"
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    test, dev = metrics["test"], metrics.get("dev") or {}
    entities = test.get("entities")
    return {
        "row": row, "seed": seed, "command": "rnnx " + " ".join(command(row, lm, seed)),
        "test_accuracy": test["accuracy"],
        "test_oov_accuracy": (test.get("out_of_vocab") or {}).get("accuracy"),
        "test_f1": entities["f1"] if entities else None,
        "dev_score": (dev.get("entities") or {}).get("f1") if entities else dev.get("accuracy"),
        "epochs_run": metrics.get("epochs_run"), "train_seconds": metrics.get("train_seconds"),
        "run": os.path.relpath(run, ROOT),
    }


def summarize(rows: list[dict]) -> dict:
    """The mean over ``rows`` (one row's seeds) of every score they all have."""
    out = {"seeds": len(rows)}
    for key in SCORES:
        values = [r.get(key) for r in rows if key in r]
        if values:
            out[key] = None if None in values else round(mean(values), 6)
    return out


def _write(out: Path, runs: list[dict], lm: str) -> dict:
    rows = sorted({r["row"] for r in runs}, key=list(ROWS).index)
    report = {
        "what": "README character-LM commands over seeds (benchmarks/char_lm_seeds.py)", "lm": lm,
        "cpu_count": os.cpu_count(), "runs": runs,
        "means": {row: summarize([r for r in runs if r["row"] == row]) for row in rows},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, report)  # atomic: a report interrupted mid-write keeps the previous one
    return report


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", required=True, help="the rnnx pretrain-lm run the -lm rows read")
    parser.add_argument("--rows", nargs="+", default=["ner-lm", "mr-lm"], choices=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--models", type=Path, default=Path("saved_models/char_lm_seeds"),
                        help="folder for the trained runs (default saved_models/char_lm_seeds)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/char_lm_seeds.json"))
    args = parser.parse_args(argv)
    if not (Path(args.lm) / "model.keras").is_file():
        parser.error(f"--lm {args.lm}: no model.keras there; train one with rnnx pretrain-lm first")
    models = args.models.resolve()
    runs = json.loads(args.out.read_text(encoding="utf-8"))["runs"] if args.out.exists() else []
    for row in args.rows:
        for seed in args.seeds:
            result = run_one(row, args.lm, seed, models)
            runs = [r for r in runs if (r["row"], r["seed"]) != (row, seed)] + [result]
            report = _write(args.out, runs, args.lm)
            print(f"{row} seed {seed}: test {_pct(result['test_accuracy'])}  OOV {_pct(result['test_oov_accuracy'])}"
                  f"  F1 {_pct(result['test_f1'])}  ({result['epochs_run']} epochs, {result['train_seconds']:.0f} s)",
                  flush=True)
    for row, m in report["means"].items():
        print(f"{row}: mean of {m['seeds']} seeds: test {_pct(m.get('test_accuracy'))}  "
              f"OOV {_pct(m.get('test_oov_accuracy'))}  F1 {_pct(m.get('test_f1'))}")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
