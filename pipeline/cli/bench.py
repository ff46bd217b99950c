"""``rnnx bench``: a thin wrapper over :func:`pipeline.check.verify.bench_all`."""

from __future__ import annotations

from pipeline.cli.options import add_export_args, add_json
from pipeline.cli.registry import Command, emit, register


def configure(p) -> None:
    add_export_args(p)
    p.add_argument("--budget", type=float, default=0.5, help="seconds of timed calls per cell (default 0.5)")
    p.add_argument("--no-keras", action="store_true", help="time ONNX Runtime only")
    add_json(p)


def run(args) -> int:
    from pipeline.check.bench import format_bench
    from pipeline.check.keras_export import bench_keras_export, format_keras_bench, is_keras_export
    from pipeline.check.verify import bench_all

    if is_keras_export(args.export):
        report = bench_keras_export(args.export)
        emit(args, format_keras_bench(report), report)
        return 0

    reports = bench_all(args.export, model_file=args.model_file, budget_s=args.budget, run_path=args.run,
                        keras=not args.no_keras)
    table = format_bench(reports[args.model_file])
    if "model.int8.onnx" in reports:
        table += "\n\n" + format_bench(reports["model.int8.onnx"])
    emit(args, table, reports)
    return 0


register(Command("bench", "latency of ONNX Runtime vs Keras on real sentences", "rnnx bench export/pos",
                 configure, run))
