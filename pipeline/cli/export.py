"""``rnnx export``: a thin wrapper over :func:`pipeline.export.exporter.export_run`."""

from __future__ import annotations

import argparse

from pipeline.cli.options import add_json, engines, quantize_choices
from pipeline.cli.registry import Command, emit, register


def configure(p) -> None:
    p.add_argument("run", help="a run folder, e.g. saved_models/pos")
    p.add_argument("--engine", default="auto", choices=engines(),
                   help="fused: one ONNX RNN/GRU/LSTM op per layer (fast); tf2onnx: the reference path; "
                        "auto: fused when it covers every layer")
    p.add_argument("--name", help="export folder name (default: the run's name)")
    p.add_argument("--out", default="export", help="parent folder (default export/)")
    p.add_argument("--text", action=argparse.BooleanOptionalAction, default=True,
                   help="also write model.text.onnx (tokens in, labels out; default on)")
    p.add_argument("--quantize", choices=quantize_choices(), help="also write a dynamic int8 model.int8.onnx")
    p.add_argument("--ort", action="store_true", help="also write ORT-format (.ort) files for ONNX Runtime Mobile")
    add_json(p)


def run(args) -> int:
    from pipeline.export.exporter import export_run

    result = export_run(args.run, out_root=args.out, engine=args.engine, name=args.name, text=args.text,
                        quantize=args.quantize, ort=args.ort)
    info = {"folder": str(result.folder), "engine": result.engine, "note": result.note}
    table = f"exported {result.folder}/model.onnx  (engine {result.engine})"
    if result.note:
        table += f"\n  note: {result.note}"
    emit(args, table, info)
    return 0


register(Command("export", "export a trained run to ONNX",
                 "rnnx export saved_models/pos --engine auto --quantize int8 --ort", configure, run))
