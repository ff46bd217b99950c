"""``rnnx experiment``: a thin wrapper over :func:`pipeline.experiment.runner.run_experiment`.

``configure(parser)`` adds the flags; ``experiment_command(args, emit)`` runs the
experiment and prints :func:`format_summary` (or, with ``--json``, the results).

>>> import argparse
>>> p = argparse.ArgumentParser(); configure(p)
>>> a = p.parse_args(["--quick"])
>>> a.quick, a.out, a.cells
(True, None, None)
>>> default_out(a)
'experiments/quick'
"""

from __future__ import annotations

import argparse

from pipeline.cli.options import cells
from pipeline.cli.registry import Command, emit, register


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="tiny models on small slices for one epoch (a smoke test, a few minutes on 2 cores); "
                        "the default full run is sized to finish within an hour on 2 cores")
    p.add_argument("--out", default=None,
                   help="folder for report.md, results.json, PNGs, runs and exports "
                        "(default experiments/full or experiments/quick)")
    p.add_argument("--cells", nargs="+", choices=cells(), default=None,
                   help="train only these cells (default: simplernn lstm gru)")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling and training (default 0)")
    p.add_argument("--verbose", action="store_true", help="show model.fit progress bars")
    p.add_argument("--json", action="store_true", help="print results.json instead of the summary table")


def default_out(args: argparse.Namespace) -> str:
    return args.out or ("experiments/quick" if args.quick else "experiments/full")


def format_summary(results: dict, out: str) -> str:
    """The 12-run table, the verdict and where the report is."""
    lines = [f"{'run':<24} {'test acc':>8} {'params':>10} {'s/epoch':>8} {'ORT p50 ms':>10}"]
    for r in results["runs"]:
        lines.append(f"{r['name']:<24} {100 * r['test_accuracy']:>7.2f}% {r['parameters']:>10,} "
                     f"{r['seconds_per_epoch']:>8.1f} {r['latency_p50_ms']:>10.3f}")
    lm = results.get("char_lm")
    if lm:
        lines += ["", f"character LM: held-out bits per character {lm['lm']['bpc_forward']:.3f} forward, "
                      f"{lm['lm']['bpc_backward']:.3f} backward"]
        lines += [f"{r['name']:<34} test acc {100 * r['test_accuracy']:.2f}%"
                  + ("" if r.get("test_entity_f1") is None else f", entity F1 {100 * r['test_entity_f1']:.2f}")
                  for r in lm["taggers"]]
        lines += [t["statement"] for t in lm.get("targets", [])]
    lines += ["", results["bidirectional"].get("paragraph", ""), "",
              f"report: {out}/report.md   results: {out}/results.json   "
              f"({results['seconds']['total'] / 60:.1f} min)"]
    return "\n".join(lines)


def experiment_command(args: argparse.Namespace, emit) -> int:
    from pipeline.experiment.runner import run_experiment

    out = default_out(args)
    results = run_experiment(out, quick=args.quick, seed=args.seed,
                             cells=tuple(args.cells) if args.cells else None, verbose=int(args.verbose),
                             log=(lambda _: None) if args.json else print)
    emit(args, format_summary(results, out), results)
    return 0


register(Command("experiment", "answer the lecture's RNN questions with measurements (report.md + results.json)",
                 "rnnx experiment --quick --out experiments/quick", configure,
                 lambda args: experiment_command(args, emit)))
