"""Training with a frozen character LM: its features computed once (the default) against the LM run in every
training step, side by side in one process (:mod:`pipeline.train.lm_cache`).

Both arms train the README's Brown tagger with ``--lm`` (BiLSTM-CNN-CRF, word
dropout 0.05) for the same epochs and seed; the second arm sets the cache's
memory limit to 0, which is what a run whose features would not fit in memory
does. Reported per arm: seconds per epoch (training time less the features'),
the features' one-off seconds and memory, test and OOV accuracy.

    nice -n 10 .venv/bin/python benchmarks/lm_feature_cache.py --lm experiments/full/saved_models/char-lm

>>> per_epoch({"train_seconds": 250.0, "epochs_run": 2, "lm_features_cache": {"seconds": 50.0}})
100.0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.artifacts import write_json  # noqa: E402

ARMS = ("features computed once", "LM in every step")


def per_epoch(metrics: dict) -> float:
    """Seconds per epoch of a run, its one-off LM feature time left out."""
    cache = (metrics.get("lm_features_cache") or {}).get("seconds", 0.0)
    return round((metrics["train_seconds"] - cache) / metrics["epochs_run"], 1)


def run_arm(arm: str, lm: str, epochs: int, root: Path, limit: int | None) -> dict:
    from pipeline.models import ModelConfig
    from pipeline.train import lm_cache
    from pipeline.train.fit import RunSpec, TrainOptions, train

    saved = lm_cache.MAX_BYTES
    lm_cache.MAX_BYTES = saved if arm == ARMS[0] else 0
    try:
        spec = RunSpec(name=f"arm{ARMS.index(arm)}", data="brown-upos",
                       model=ModelConfig("tagging", "lstm", chars=True, crf=True, char_filters=100, dropout=0.5,
                                         word_dropout=0.05, lm=str(Path(lm).resolve())),
                       options=TrainOptions(epochs=epochs, patience=epochs, min_freq=2, train_limit=limit, verbose=0))
        run = train(spec, root=root, force=True)
    finally:
        lm_cache.MAX_BYTES = saved
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    return {"arm": arm, "seconds_per_epoch": per_epoch(metrics), "epochs_run": metrics["epochs_run"],
            "train_seconds": metrics["train_seconds"], "lm_features_cache": metrics.get("lm_features_cache"),
            "test_accuracy": metrics["test"]["accuracy"],
            "test_oov_accuracy": (metrics["test"].get("out_of_vocab") or {}).get("accuracy")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", required=True, help="the rnnx pretrain-lm run the tagger reads")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N sentences (a quick look)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lm_feature_cache.json"))
    args = parser.parse_args(argv)
    if not (Path(args.lm) / "model.keras").is_file():
        parser.error(f"--lm {args.lm}: no model.keras there; train one with rnnx pretrain-lm first")
    with tempfile.TemporaryDirectory(prefix="rnnx-lm-cache-") as tmp:
        arms = [run_arm(arm, args.lm, args.epochs, Path(tmp), args.limit) for arm in ARMS]
    once, every = arms
    report = {"what": "frozen-LM tagger training, features computed once vs the LM in every step "
                      "(benchmarks/lm_feature_cache.py)",
              "lm": args.lm, "data": "brown-upos", "epochs": args.epochs, "limit": args.limit,
              "cpu_count": os.cpu_count(), "arms": arms,
              "epoch_speedup": round(every["seconds_per_epoch"] / once["seconds_per_epoch"], 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report)
    for a in arms:
        cache = a["lm_features_cache"]
        extra = f", features once: {cache['seconds']:.0f} s, {cache['bytes'] / 2**20:,.0f} MiB" if cache else ""
        print(f"{a['arm']}: {a['seconds_per_epoch']:.0f} s an epoch{extra}; test {100 * a['test_accuracy']:.2f}%"
              f"  OOV {100 * a['test_oov_accuracy']:.2f}%")
    print(f"an epoch is {report['epoch_speedup']}x faster with the features computed once; written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
