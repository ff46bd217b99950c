"""Sub-commands of ``rnnx``: each module of :mod:`pipeline.cli` registers one :class:`Command`.

A command is its flags (``configure``), what it does (``run``, a thin wrapper over an
importable function) and a ``--help`` example. :func:`emit` prints a table for
people or, with ``--json``, the machine-readable result.

>>> import argparse
>>> emit(argparse.Namespace(json=True), "a table", {"accuracy": 0.5})
{
  "accuracy": 0.5
}
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Callable


@dataclass
class Command:
    name: str
    help: str
    example: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def register(cmd: Command) -> Command:
    """Add ``cmd`` to :data:`COMMANDS` (``rnnx --help`` lists them in registration order)."""
    COMMANDS[cmd.name] = cmd
    return cmd


def emit(args: argparse.Namespace, table: str, data) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(table)
