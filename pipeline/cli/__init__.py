"""The ``rnnx`` command.

One module per sub-command (``pipeline/cli/data.py`` ... ``experiment.py``), each a
thin wrapper over an importable function, registered in
:data:`pipeline.cli.registry.COMMANDS`. Flags shared across commands (``--data``,
``--format``, ``--column``, ``--json``...) are defined once in
:mod:`pipeline.cli.options`, with choices taken from the registries that own them.
Results are printed as a table for people and written as JSON beside the artifact
for programs; ``--json`` prints that JSON instead of the table.

Command modules import only argparse-level code at the top; everything heavy is
imported inside ``run``, so ``rnnx predict`` imports neither TensorFlow nor Keras:
it runs on ONNX Runtime.
"""

from __future__ import annotations

import argparse
import sys

from pipeline.cli import data, pretrain_lm, train, evaluate, export, check, bench, predict, demo, experiment, web  # noqa: F401,E401
from pipeline.cli.registry import COMMANDS, Command, emit
from pipeline.errors import RnnxError

__all__ = ["COMMANDS", "Command", "build_parser", "emit", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnx",
        description="Train recurrent taggers and classifiers with Keras; ship them through ONNX Runtime.",
        epilog="Example: rnnx train --data brown-upos --name pos && rnnx export saved_models/pos && rnnx check export/pos",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=f"{cmd.help}.",
                           epilog=f"Example: {cmd.example}", formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.configure(p)
        if "--verbose" not in p._option_string_actions:
            p.add_argument("--verbose", action="store_true",
                           help="show TensorFlow's own log lines (hidden by default)")
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.keras_env import quiet_startup

    quiet_startup(verbose=bool(getattr(args, "verbose", False)))  # before anything imports TensorFlow
    try:
        return args._run(args)
    except RnnxError as exc:
        print(f"rnnx {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnnx {args.command}: interrupted; nothing half-written was left in place", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
