"""``rnnx check``: a thin wrapper over :func:`pipeline.check.verify.check_all`; exit status 1 on a failure."""

from __future__ import annotations

import sys

from pipeline.cli.options import add_export_args, add_json
from pipeline.cli.registry import Command, emit, register
from pipeline.errors import ParityError


def configure(p) -> None:
    add_export_args(p)
    p.add_argument("--atol", type=float, default=1e-4, help="max absolute probability difference (default 1e-4)")
    p.add_argument("--margin", type=float, default=1e-3,
                   help="label flips count as failures only where the top-2 margin exceeds this (default 1e-3)")
    p.add_argument("--limit", type=int, help="check only the first N held-out sequences")
    p.add_argument("--sample", help="folders from a .keras model: a .npz of real inputs to compare on as well")
    p.add_argument("--keras-file", help="folders from a .keras model: compare with this copy of the model file")
    add_json(p)


def run(args) -> int:
    from pipeline.check.keras_export import check_keras_export, format_keras_parity, is_keras_export
    from pipeline.check.parity import Tolerance
    from pipeline.check.verify import check_all, format_checks

    if is_keras_export(args.export):
        report = check_keras_export(args.export, sample=args.sample, atol=args.atol, keras_file=args.keras_file)
        emit(args, format_keras_parity(report), report)
        if not report["passed"]:
            print(f"FAILED: {args.export} disagrees with Keras (see parity.json)", file=sys.stderr)
            return 1
        return 0
    try:
        reports = check_all(args.export, model_file=args.model_file, tol=Tolerance(args.atol, args.margin),
                            limit=args.limit, run_path=args.run)
    except ParityError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    emit(args, format_checks(reports), reports)
    return 0


register(Command("check", "prove ONNX Runtime matches Keras on held-out data",
                 "rnnx check export/pos\n  rnnx check export/forecast --sample held_out.npz", configure, run))
