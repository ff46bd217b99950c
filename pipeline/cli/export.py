"""``rnnx export``: a thin wrapper over :func:`pipeline.export.exporter.export_run`."""

from __future__ import annotations

import argparse

from pipeline.cli.options import add_json, engines, quantize_choices
from pipeline.cli.registry import Command, emit, register
from pipeline.export.spellings import DEFAULT_CHAR_CACHE


def configure(p) -> None:
    p.add_argument("run", help="a run folder (saved_models/pos) or your own Keras model file (models/forecast.keras)")
    p.add_argument("--engine", default="auto", choices=engines(),
                   help="fused: one ONNX RNN/GRU/LSTM op per layer (fast); tf2onnx: the reference path; "
                        "auto: fused when it covers every layer")
    p.add_argument("--name", help="export folder name (default: the run's name)")
    p.add_argument("--out", default="export", help="parent folder (default export/)")
    p.add_argument("--text", action=argparse.BooleanOptionalAction, default=True,
                   help="also write model.text.onnx (tokens in, labels out; default on)")
    p.add_argument("--quantize", choices=quantize_choices(), help="also write a dynamic int8 model.int8.onnx")
    p.add_argument("--ort", action="store_true", help="also write ORT-format (.ort) files for ONNX Runtime Mobile")
    p.add_argument("--streaming", action="store_true",
                   help="also write model.stream.onnx: one chunk of tokens or frames per call, every recurrent "
                        "state in (state_in.*) and out (state_out.*); unidirectional models only")
    p.add_argument("--char-cache", type=int, default=DEFAULT_CHAR_CACHE, metavar="N",
                   help="character-CNN models: precompute the character vectors of the N most frequent training "
                        f"spellings into the graph, so only other tokens run the CNN (default {DEFAULT_CHAR_CACHE}; "
                        "0: off; each spelling adds filters x 4 bytes)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing export folder (only one rnnx wrote, marked by .rnnx-export)")
    p.add_argument("--sample", help="a .keras model: a .npz of real inputs (one array per input name) to check on")
    add_json(p)


def run(args) -> int:
    from pathlib import Path

    from pipeline.export.exporter import export_run

    if Path(args.run).suffix == ".keras":
        return run_keras_file(args)
    result = export_run(args.run, out_root=args.out, engine=args.engine, name=args.name, text=args.text,
                        quantize=args.quantize, ort=args.ort, streaming=args.streaming, force=args.force,
                        char_cache=args.char_cache)
    info = {"folder": str(result.folder), "engine": result.engine, "note": result.note}
    table = f"exported {result.folder}/model.onnx  (engine {result.engine})"
    if result.note:
        table += f"\n  note: {result.note}"
    cache = _char_cache(result.folder)
    if cache is not None:
        info["char_cache"] = cache
        table += f"\n  character cache: {cache['note']}"
    emit(args, table, info)
    return 0


def _char_cache(folder) -> dict | None:
    """What export.json says about the character-feature cache (character-CNN models), else None."""
    from pipeline.artifacts import read_json

    return read_json(folder / "export.json").get("char_cache")


def run_keras_file(args) -> int:
    """``rnnx export model.keras``: the export folder, then parity with Keras (exit 1 if it fails)."""
    import sys

    from pipeline.check.keras_export import check_keras_export, format_keras_parity
    from pipeline.errors import ConfigError
    from pipeline.export.keras_file import export_keras_file

    engine = "fused" if args.engine == "auto" else args.engine
    if args.quantize or args.ort:
        raise ConfigError("--quantize and --ort are for rnnx runs; a .keras model exports model.onnx (and "
                          "model.stream.onnx with --streaming)")
    result = export_keras_file(args.run, out_root=args.out, name=args.name, force=args.force, engine=engine,
                               streaming=args.streaming)
    report = check_keras_export(result.folder, sample=args.sample)
    table = f"exported {result.folder}/model.onnx  (engine {engine})\n{format_keras_parity(report)}"
    emit(args, table, {"folder": str(result.folder), "engine": engine, "parity": report})
    if not report["passed"]:
        print(f"FAILED: {result.folder}/model.onnx disagrees with Keras (see parity.json)", file=sys.stderr)
        return 1
    return 0


register(Command("export", "export a trained run, or your own .keras model, to ONNX",
                 "rnnx export saved_models/pos --engine auto --quantize int8 --ort\n"
                 "  rnnx export models/forecast.keras --streaming --sample held_out.npz", configure, run))
