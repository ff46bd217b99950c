"""Training throughput (real tokens per second) on brown-upos, per cell type,
with and without length bucketing, on 1 and 2 (logical) devices.

Each configuration runs in its own process (logical CPU devices must be set
before TensorFlow starts). A run trains the demo architecture (bidirectional,
128 units, embedding 100, batch 32) for ``--steps`` steps twice; the second pass
is timed, so tracing and warm-up are excluded. Padding tokens are not counted:
a configuration that pads more does less useful work per second.

    python benchmarks/train_throughput.py --steps 60 --out benchmarks/results/train_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(cell: str, bucketing: bool, devices: int, steps: int, bidirectional: bool) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from pipeline.train.distribute import make_distribution

    dist = make_distribution("mirrored" if devices > 1 else "default", devices if devices > 1 else None)
    from pipeline.data.datasets import load_dataset
    from pipeline.data.vocab import Labels, Vocabulary
    from pipeline.keras_env import import_keras
    from pipeline.models import ModelConfig, build_model
    from pipeline.train.inputs import encode_targets, make_dataset

    keras = import_keras()
    keras.utils.set_random_seed(0)
    train = load_dataset("brown-upos")["train"]
    vocab = Vocabulary.build(train.tokens, min_freq=2)
    labels = Labels.build(t for tags in train.labels for t in tags)
    ids = [vocab.encode(t) for t in train.tokens]
    ds, _ = make_dataset(ids, encode_targets(train, labels), "tagging", 32, shuffle=True, seed=0,
                         bucketing=bucketing)
    cfg = ModelConfig("tagging", cell, bidirectional=bidirectional, units=128, embedding_dim=100,
                      vocab_size=vocab.size, num_labels=labels.size)
    with dist.strategy.scope():
        model = build_model(cfg)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

    import tensorflow as tf

    it = iter(ds)
    batches = [tuple(t.numpy() for t in next(it)) for _ in range(steps)]
    tokens = sum(int((x != 0).sum()) for x, _ in batches)
    padded = sum(x.size for x, _ in batches)
    fixed = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=ds.element_spec)
    times = {}

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            times[epoch] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times[epoch] = time.perf_counter() - times[epoch]

    # epoch 0 traces and warms up; epoch 1 is timed on the very same batches
    model.fit(fixed.repeat(), steps_per_epoch=steps, epochs=2, verbose=0, callbacks=[Clock()])
    seconds = times[1]
    return {"cell": cell, "bidirectional": bidirectional, "bucketing": bucketing, "devices": devices,
            "steps": steps, "tokens": tokens, "padding_share": 1 - tokens / padded, "seconds": seconds,
            "tokens_per_s": tokens / seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--cells", default="simplernn,lstm,gru")
    p.add_argument("--out", default="benchmarks/results/train_throughput.json")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        cell, bucketing, devices = args.worker.split(":")
        print(json.dumps(worker(cell, bucketing == "1", int(devices), args.steps, True)))
        return
    rows = []
    for cell in args.cells.split(","):
        for bucketing in (True, False):
            for devices in (1, 2):
                res = subprocess.run(
                    [sys.executable, __file__, "--steps", str(args.steps), "--worker",
                     f"{cell}:{int(bucketing)}:{devices}"],
                    capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
                if res.returncode != 0:
                    raise SystemExit(res.stderr[-3000:])
                row = json.loads(res.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"{cell:<10} bucketing={int(bucketing)} devices={devices}: "
                      f"{row['tokens_per_s']:>9,.0f} tokens/s (padding {row['padding_share'] * 100:.0f}%)", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cpu_count": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}")
    print("\n| cell | bucketing | devices | tokens/s | padding |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['cell']} | {'yes' if r['bucketing'] else 'no'} | {r['devices']} | {r['tokens_per_s']:,.0f} | "
              f"{r['padding_share'] * 100:.0f}% |")


if __name__ == "__main__":
    main()
