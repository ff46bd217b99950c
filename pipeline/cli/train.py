"""``rnnx train``: flags -> :func:`pipeline.train.fit.run_spec` -> :func:`pipeline.train.fit.train`."""

from __future__ import annotations

import argparse

from pipeline.cli.options import add_data_args, add_json, cells, mixed_precisions, poolings, strategies, tasks
from pipeline.cli.registry import Command, emit, register


def configure(p) -> None:
    add_data_args(p, required=True)
    p.add_argument("--dev", help="dev file for user data (default: every 10th sequence of --data)")
    p.add_argument("--test", help="test file for user data")
    p.add_argument("--name", required=True, help="run name: writes saved_models/NAME/")
    p.add_argument("--task", choices=tasks(), help="tagging or classification (default: what the data holds)")
    p.add_argument("--cell", default="lstm", choices=cells())
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--embedding-dim", type=int, default=100)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--word-dropout", type=float, default=0.0,
                   help="share of training word ids replaced by the unknown word at each step, so the tagger "
                        "learns to read unknown words from their characters (try 0.05 with --chars)")
    p.add_argument("--chars", action="store_true",
                   help="add character-CNN word features (Ma & Hovy 2016): the tagger can read unknown words")
    p.add_argument("--char-filters", type=int, default=50, help="character CNN filters (with --chars)")
    p.add_argument("--lm", metavar="LM_RUN",
                   help="add a pretrained character LM's states as word features (contextual string embeddings, "
                        "Akbik et al. 2018): a run of `rnnx pretrain-lm`, by name or folder")
    p.add_argument("--word-embedding", action=argparse.BooleanOptionalAction, default=True,
                   help="--no-word-embedding: read words only through --chars and/or --lm")
    p.add_argument("--lm-fine-tune", action="store_true", help="with --lm: train the LM's weights too (default: frozen)")
    p.add_argument("--crf", action="store_true",
                   help="taggers: a linear-chain CRF output layer, Viterbi-decoded (also in the exported graph)")
    p.add_argument("--pooling", default="last", choices=poolings(),
                   help="classifiers: read the last recurrent state (default) or pool all states over the text")
    p.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--min-freq", type=int, default=1, help="keep words seen at least this often (others -> unknown)")
    p.add_argument("--max-vocab", type=int)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--patience", type=int, default=2, help="early-stopping patience in epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="train on the first N sequences only (quick runs)")
    p.add_argument("--steps-per-epoch", type=int, help="batches per epoch (default: one pass over the data)")
    p.add_argument("--mixed-precision", choices=mixed_precisions(),
                   help="compute in float16/bfloat16 on GPUs (loss scaled as Keras does); the saved model is float32")
    p.add_argument("--strategy", default="default", choices=strategies(),
                   help="tf.distribute strategy: mirrored = local GPUs, multiworker = machines named by TF_CONFIG; "
                        "--batch-size is global")
    p.add_argument("--logical-cpus", type=int, help="split the CPU into N devices (try --strategy without GPUs)")
    p.add_argument("--bucketing", action=argparse.BooleanOptionalAction, default=True,
                   help="length-bucketed batches (default) or random batches")
    p.add_argument("--force", action="store_true",
                   help="replace an existing saved_models/NAME (only a folder rnnx wrote, marked by .rnnx-run)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from saved_models/NAME.partial")
    p.add_argument("--root", default="saved_models", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_json(p)


def spec_from_args(args):
    """The :class:`~pipeline.train.fit.RunSpec` the flags describe."""
    from pipeline.train.fit import run_spec

    return run_spec(
        args.name, args.data, data_format=args.data_format, column=args.column, dev=args.dev, test=args.test,
        task=args.task or data_task(args), cell=args.cell, bidirectional=args.bidirectional, layers=args.layers,
        units=args.units, embedding_dim=args.embedding_dim, dropout=args.dropout, word_dropout=args.word_dropout,
        pooling=args.pooling, chars=args.chars, char_filters=args.char_filters, crf=args.crf,
        lm=args.lm or "", lm_fine_tune=args.lm_fine_tune, word_embedding=args.word_embedding,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, patience=args.patience,
        seed=args.seed, lowercase=args.lowercase, min_freq=args.min_freq, max_vocab=args.max_vocab,
        train_limit=args.limit, steps_per_epoch=args.steps_per_epoch, mixed_precision=args.mixed_precision,
        bucketing=args.bucketing, strategy=args.strategy, logical_cpus=args.logical_cpus,
        verbose=0 if args.quiet or args.json else 1,
    )


def run(args) -> int:
    from pipeline.artifacts import read_json
    from pipeline.train.fit import train
    from pipeline.train.summary import format_run_metrics

    try:
        folder = train(spec_from_args(args), root=args.root, force=args.force, resume=args.resume)
    except KeyboardInterrupt:
        import sys
        from pathlib import Path

        partial = Path(args.root) / f"{args.name}.partial"
        if partial.is_dir():
            print(f"rnnx train: interrupted; the epochs finished so far are kept in {partial} (no complete run "
                  f"was written). Continue with the same command plus --resume, or start over with --force",
                  file=sys.stderr)
        else:
            print("rnnx train: interrupted before the first epoch finished; nothing was kept", file=sys.stderr)
        return 130
    metrics = read_json(folder / "metrics.json")
    if metrics.get("worker"):
        emit(args, f"worker finished {metrics.get('epochs_run', '?')} epochs; the chief writes "
                   f"{args.root}/{args.name}", metrics)
        return 0
    emit(args, format_run_metrics(folder, metrics), {"run": str(folder), **metrics})
    return 0


def data_task(args) -> str:
    """What ``--data`` holds: tagging or classification."""
    from pipeline.data.sources import is_builtin

    if is_builtin(args.data):
        from pipeline.data.datasets import DATASETS

        return DATASETS[args.data].task
    from pipeline.data.sources import load_file
    from pipeline.data.stream import corpus_files

    files = corpus_files(args.data)
    return load_file(str(files[0]) if files else args.data, args.data_format, args.column).task


register(Command("train", "train a tagger or classifier with model.fit",
                 "rnnx train --data brown-upos --name pos --cell lstm --bidirectional --epochs 3", configure, run))
