"""``rnnx pretrain-lm``: flags -> :func:`pipeline.train.char_lm.pretrain` (forward and backward character LMs)."""

from __future__ import annotations

import argparse

from pipeline.cli.options import add_json
from pipeline.cli.registry import Command, emit, register


def configure(p) -> None:
    p.add_argument("--data", nargs="+", required=True, metavar="CORPUS_OR_FILE",
                   help="built-in corpora (their training splits; dev is the held-out text) and/or plain UTF-8 "
                        "text files (one text per line; every 20th line is held out)")
    p.add_argument("--name", required=True, help="run name: writes saved_models/NAME/")
    p.add_argument("--units", type=int, default=256, help="LSTM units per direction")
    p.add_argument("--char-dim", type=int, default=32, help="character embedding size")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout on the states before the prediction heads")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--patience", type=int, default=1, help="early-stopping patience in epochs (held-out loss)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-char-freq", type=int, default=2, help="rarer characters read as unknown")
    p.add_argument("--limit", type=int, help="the first N training texts of each source only (quick runs)")
    p.add_argument("--force", action="store_true", help="replace an existing saved_models/NAME (an rnnx run)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from saved_models/NAME.partial")
    p.add_argument("--root", default="saved_models", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_json(p)


def run(args) -> int:
    from pipeline.artifacts import read_json
    from pipeline.train.char_lm import LMOptions, LMSpec, pretrain

    opts = LMOptions(units=args.units, char_dim=args.char_dim, dropout=args.dropout, epochs=args.epochs,
                     batch_size=args.batch_size, learning_rate=args.lr, patience=args.patience, seed=args.seed,
                     min_char_freq=args.min_char_freq, train_limit=args.limit,
                     verbose=0 if args.quiet or args.json else 1)
    try:
        folder = pretrain(LMSpec(args.name, list(args.data), opts), root=args.root, force=args.force,
                          resume=args.resume)
    except KeyboardInterrupt:
        import sys

        print(f"rnnx pretrain-lm: interrupted; finished epochs are kept in {args.root}/{args.name}.partial when "
              "there are any: continue with the same command plus --resume", file=sys.stderr)
        return 130
    m = read_json(folder / "metrics.json")
    h = m["heldout"]
    emit(args, f"saved {folder}  ({m['epochs_run']} epochs, {m['train_seconds']} s, "
               f"{m['train_characters']:,} training characters)\n"
               f"  held-out bits per character: forward {h['bpc_forward']:.3f}  backward {h['bpc_backward']:.3f}  "
               f"({h['characters']:,} characters)\n"
               f"  use it: rnnx train --data brown-upos --name pos-lm --lm {args.name} --chars --crf",
         {"run": str(folder), **m})
    return 0


register(Command("pretrain-lm", "train forward and backward character language models (word features for --lm)",
                 "rnnx pretrain-lm --data brown-upos --name brown-lm --units 128 --epochs 3", configure, run))
