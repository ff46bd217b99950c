"""``rnnx demo``: a thin wrapper over :func:`pipeline.experiment.demo.run_demo` (the plan ``DEMO``)."""

from __future__ import annotations

import json

from pipeline.cli.options import add_json
from pipeline.cli.registry import Command, register


def configure(p) -> None:
    p.add_argument("--quick", action="store_true", help="small slices and 1 epoch (a smoke run of the whole job)")
    p.add_argument("--skip-classifier", action="store_true")
    add_json(p)


def run(args) -> int:
    from pipeline.experiment.demo import run_demo

    summary = run_demo(quick=args.quick, classifier=not args.skip_classifier)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    return 0


register(Command("demo", "the main job: train, evaluate, export, check and bench a tagger and a classifier",
                 "rnnx demo", configure, run))
