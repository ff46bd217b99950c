"""The ``rnnx`` command.

Every sub-command is one function registered with :func:`command`; flag names
are shared across commands (``--data``, ``--format``, ``--name``, ``--json``).
Results are printed as a table for people and written as JSON beside the
artifact for programs; ``--json`` prints that JSON instead of the table.

``rnnx predict`` imports neither TensorFlow nor Keras: it runs on ONNX Runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Callable

from pipeline.errors import ParityError, RnnxError


@dataclass
class Command:
    name: str
    help: str
    example: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, example: str):
    """Register ``run`` with the argument set-up function that follows it."""

    def wrap(configure):
        def bind(run):
            COMMANDS[name] = Command(name, help, example, configure, run)
            return run

        return bind

    return wrap


def emit(args: argparse.Namespace, table: str, data) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(table)


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the machine-readable result instead of a table")


def add_data_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--data", required=required,
                   help="built-in dataset (brown-upos, mr), a file (CoNLL-U, CoNLL columns, word/tag lines, "
                        "label<TAB>text), or a folder / glob of files streamed one at a time")
    p.add_argument("--format", dest="data_format", choices=["conllu", "conll", "wordtag", "tsv"],
                   help="format of --data files (detected from the extension and content when left out)")
    p.add_argument("--column", default="upos", choices=["upos", "xpos"], help="CoNLL-U tag column (default upos)")


# --------------------------------------------------------------------------- data


def _configure_data(p):
    sub = p.add_subparsers(dest="data_cmd", required=True)
    ls = sub.add_parser("list", help="list built-in datasets")
    add_json(ls)
    show = sub.add_parser("show", help="sizes, label distribution and sentence lengths of a dataset or file")
    show.add_argument("name", help="built-in dataset name or a file path")
    show.add_argument("--format", dest="data_format", choices=["conllu", "conll", "wordtag", "tsv"])
    show.add_argument("--column", default="upos", choices=["upos", "xpos"])
    add_json(show)


@command("data", "list and inspect corpora", "rnnx data show brown-upos")(_configure_data)
def cmd_data(args) -> int:
    from pipeline.data import datasets

    if args.data_cmd == "list":
        rows = datasets.list_datasets()
        table = "\n".join(f"{r['name']:<12} {r['task']:<15} {r['description']}" for r in rows)
        emit(args, table, rows)
        return 0
    from pipeline.data.sources import resolve

    splits = resolve(args.name, fmt=args.data_format, column=args.column)
    info = datasets.describe(splits)
    emit(args, format_describe(args.name, info), info)
    return 0


def format_describe(name: str, info: dict) -> str:
    lines = [f"{name}"]
    for split, d in info.items():
        if not isinstance(d, dict) or "sequences" not in d:
            continue
        ls = d.get("lengths", {})
        lines.append(
            f"  {split:<6} {d['sequences']:>7,} sequences {d['tokens']:>10,} tokens   "
            f"length min {ls.get('min')} median {ls.get('median')} p95 {ls.get('p95')} max {ls.get('max')}"
        )
    first = next((d for d in info.values() if isinstance(d, dict) and d.get("labels")), None)
    if first:
        labels = first["labels"]
        items = labels.items() if isinstance(labels, dict) else [(x["label"], x) for x in labels]
        lines.append("  labels (train): " + ", ".join(
            f"{k} {v['share'] * 100:.1f}%" if isinstance(v, dict) and "share" in v else f"{k} {v}"
            for k, v in list(items)[:20]))
    return "\n".join(lines)


# --------------------------------------------------------------------------- train


def _configure_train(p):
    add_data_args(p, required=True)
    p.add_argument("--dev", help="dev file for user data (default: every 10th sequence of --data)")
    p.add_argument("--test", help="test file for user data")
    p.add_argument("--name", required=True, help="run name: writes saved_models/NAME/")
    p.add_argument("--task", choices=["tagging", "classification"],
                   help="tagging or classification (default: what the data holds)")
    p.add_argument("--cell", default="lstm", choices=["simplernn", "lstm", "gru"])
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
    p.add_argument("--crf", action="store_true",
                   help="taggers: a linear-chain CRF output layer, Viterbi-decoded (also in the exported graph)")
    p.add_argument("--pooling", default="last", choices=["last", "max", "mean"],
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
    p.add_argument("--mixed-precision", choices=["float16", "bfloat16"],
                   help="compute in float16/bfloat16 on GPUs (loss scaled as Keras does); the saved model is float32")
    p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"],
                   help="tf.distribute strategy: mirrored = local GPUs, multiworker = machines named by TF_CONFIG; "
                        "--batch-size is global")
    p.add_argument("--logical-cpus", type=int, help="split the CPU into N devices (try --strategy without GPUs)")
    p.add_argument("--bucketing", action=argparse.BooleanOptionalAction, default=True,
                   help="length-bucketed batches (default) or random batches")
    p.add_argument("--force", action="store_true", help="replace an existing saved_models/NAME")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from saved_models/NAME.partial")
    p.add_argument("--root", default="saved_models", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_json(p)


@command("train", "train a tagger or classifier with model.fit",
         "rnnx train --data brown-upos --name pos --cell lstm --bidirectional --epochs 3")(_configure_train)
def cmd_train(args) -> int:
    from pipeline.models.config import ModelConfig
    from pipeline.train.fit import RunSpec, TrainOptions, train

    task = args.task or _data_task(args)
    spec = RunSpec(
        name=args.name, data=args.data, data_format=args.data_format, column=args.column, dev=args.dev,
        test=args.test,
        model=ModelConfig(task=task, cell=args.cell, bidirectional=args.bidirectional, layers=args.layers,
                          units=args.units, embedding_dim=args.embedding_dim, dropout=args.dropout,
                          word_dropout=args.word_dropout, pooling=args.pooling,
                          chars=args.chars, char_filters=args.char_filters, crf=args.crf),
        options=TrainOptions(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                             patience=args.patience, seed=args.seed, lowercase=args.lowercase,
                             min_freq=args.min_freq, max_vocab=args.max_vocab, train_limit=args.limit,
                             steps_per_epoch=args.steps_per_epoch,
                             mixed_precision=args.mixed_precision, bucketing=args.bucketing,
                             strategy=args.strategy, logical_cpus=args.logical_cpus,
                             verbose=0 if args.quiet or args.json else 1),
    )
    folder = train(spec, root=args.root, force=args.force, resume=args.resume)
    from pipeline.artifacts import read_json

    metrics = read_json(folder / "metrics.json")
    if metrics.get("worker"):
        emit(args, f"worker finished {metrics.get('epochs_run', '?')} epochs; the chief writes "
                   f"{args.root}/{args.name}", metrics)
        return 0
    emit(args, _metrics_table(folder, metrics), {"run": str(folder), **metrics})
    return 0


def _data_task(args) -> str:
    from pipeline.data.sources import is_builtin

    if is_builtin(args.data):
        from pipeline.data.datasets import DATASETS

        return DATASETS[args.data].task
    from pipeline.data.sources import load_file
    from pipeline.data.stream import corpus_files

    files = corpus_files(args.data)
    return load_file(str(files[0]) if files else args.data, args.data_format, args.column).task


def _metrics_table(folder, metrics: dict) -> str:
    lines = [f"saved {folder}  ({metrics.get('epochs_run', '?')} epochs, {metrics.get('train_seconds', '?')} s)"]
    for split in ("dev", "test"):
        if split in metrics:
            m = metrics[split]
            extra = ""
            if m.get("out_of_vocab", {}).get("tokens"):
                oov = m["out_of_vocab"]
                extra = (f"  in-vocab {m['in_vocab']['accuracy']:.4f}  out-of-vocab {oov['accuracy']:.4f} "
                         f"({oov['tokens']:,} tokens, {oov['share'] * 100:.1f}%)")
            if "macro_f1" in m:
                extra += f"  macro-F1 {m['macro_f1']:.4f}"
            if m.get("entities"):
                extra += f"  entity-F1 {m['entities']['f1']:.4f}"
            lines.append(f"  {split:<5} accuracy {m['accuracy']:.4f}{extra}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- evaluate


def _configure_evaluate(p):
    p.add_argument("run", help="a run folder, e.g. saved_models/pos")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"],
                   help="built-in split to score (ignored with --data)")
    add_data_args(p)
    add_json(p)


@command("evaluate", "score a trained run on a split or a file",
         "rnnx evaluate saved_models/pos --split test   |   rnnx evaluate saved_models/pos --data my.conllu")(
    _configure_evaluate)
def cmd_evaluate(args) -> int:
    from pipeline.artifacts import write_json
    from pipeline.data.sources import load_file, resolve
    from pipeline.train.evaluate import evaluate_model
    from pipeline.scoring.metrics import format_report
    from pipeline.train.rundir import load_run

    run = load_run(args.run)
    if args.data:
        split = load_file(args.data, args.data_format, args.column)
        prefix = "eval_" + "".join(c if c.isalnum() else "_" for c in split.source.split("/")[-1])
    else:
        cfg = run.config
        splits = resolve(cfg["data"], fmt=cfg.get("data_format"), column=cfg.get("column", "upos"),
                         dev=cfg.get("dev"), test=cfg.get("test"))
        if args.split not in splits:
            raise RnnxError(f"{cfg['data']} has no {args.split} split; give --data FILE")
        split, prefix = splits[args.split], f"eval_{args.split}"
    if split.task != run.task:
        raise RnnxError(f"{split.source} holds {split.task} data but {args.run} is a {run.task} model")
    report = evaluate_model(run.model, run.encoder, run.labels, split, out_dir=run.files.root, prefix=prefix)
    write_json(run.files.root / f"{prefix}.json", report)
    emit(args, format_report(report), report)
    return 0


# --------------------------------------------------------------------------- export


def _configure_export(p):
    p.add_argument("run", help="a run folder, e.g. saved_models/pos")
    p.add_argument("--engine", default="auto", choices=["auto", "fused", "tf2onnx"],
                   help="fused: one ONNX RNN/GRU/LSTM op per layer (fast); tf2onnx: the reference path; "
                        "auto: fused when it covers every layer")
    p.add_argument("--name", help="export folder name (default: the run's name)")
    p.add_argument("--out", default="export", help="parent folder (default export/)")
    p.add_argument("--text", action=argparse.BooleanOptionalAction, default=True,
                   help="also write model.text.onnx (tokens in, labels out; default on)")
    p.add_argument("--quantize", choices=["int8"], help="also write a dynamic int8 model.int8.onnx")
    p.add_argument("--ort", action="store_true", help="also write ORT-format (.ort) files for ONNX Runtime Mobile")
    add_json(p)


@command("export", "export a trained run to ONNX",
         "rnnx export saved_models/pos --engine auto --quantize int8 --ort")(_configure_export)
def cmd_export(args) -> int:
    from pipeline.export.exporter import export_run

    result = export_run(args.run, out_root=args.out, engine=args.engine, name=args.name, text=args.text,
                        quantize=args.quantize, ort=args.ort)
    info = {"folder": str(result.folder), "engine": result.engine, "note": result.note}
    table = f"exported {result.folder}/model.onnx  (engine {result.engine})"
    if result.note:
        table += f"\n  note: {result.note}"
    emit(args, table, info)
    return 0


# --------------------------------------------------------------------------- check


def add_export_args(p: argparse.ArgumentParser) -> None:
    """The export folder, the model file in it, and the Keras run behind it (check, bench)."""
    p.add_argument("export", help="an export folder, e.g. export/pos")
    p.add_argument("--model-file", default="model.onnx", help="which ONNX file in the folder (default model.onnx)")
    p.add_argument("--run", help="the Keras run folder (default: the one recorded in export.json)")


def _configure_check(p):
    add_export_args(p)
    p.add_argument("--atol", type=float, default=1e-4, help="max absolute probability difference (default 1e-4)")
    p.add_argument("--margin", type=float, default=1e-3,
                   help="label flips count as failures only where the top-2 margin exceeds this (default 1e-3)")
    p.add_argument("--limit", type=int, help="check only the first N held-out sequences")
    add_json(p)


@command("check", "prove ONNX Runtime matches Keras on held-out data",
         "rnnx check export/pos")(_configure_check)
def cmd_check(args) -> int:
    from pipeline.check.parity import Tolerance
    from pipeline.check.verify import check_all, format_checks

    try:
        reports = check_all(args.export, model_file=args.model_file, tol=Tolerance(args.atol, args.margin),
                            limit=args.limit, run_path=args.run)
    except ParityError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    emit(args, format_checks(reports), reports)
    return 0


# --------------------------------------------------------------------------- bench


def _configure_bench(p):
    add_export_args(p)
    p.add_argument("--budget", type=float, default=0.5, help="seconds of timed calls per cell (default 0.5)")
    p.add_argument("--no-keras", action="store_true", help="time ONNX Runtime only")
    add_json(p)


@command("bench", "latency of ONNX Runtime vs Keras on real sentences",
         "rnnx bench export/pos")(_configure_bench)
def cmd_bench(args) -> int:
    from pipeline.check.bench import format_bench
    from pipeline.check.verify import bench_all

    reports = bench_all(args.export, model_file=args.model_file, budget_s=args.budget, run_path=args.run,
                        keras=not args.no_keras)
    table = format_bench(reports[args.model_file])
    if "model.int8.onnx" in reports:
        from pipeline.check.bench import format_bench as format_int8

        table += "\n\n" + format_int8(reports["model.int8.onnx"])
    emit(args, table, reports)
    return 0


# --------------------------------------------------------------------------- predict


def _configure_predict(p):
    p.add_argument("export", help="an export folder, e.g. export/pos")
    p.add_argument("texts", nargs="*", help="texts to tag or classify (tokens split on spaces and punctuation)")
    p.add_argument("--input", help="a file: one text per line, or a CoNLL/CoNLL-U/word-tag/TSV file")
    p.add_argument("--format", dest="data_format", choices=["conllu", "conll", "wordtag", "tsv", "lines"],
                   help="format of --input (detected when left out; 'lines' = one raw text per line)")
    p.add_argument("--column", default="upos", choices=["upos", "xpos"])
    p.add_argument("--output", help="write predictions here, in the input's format (default: stdout)")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all cores)")
    add_json(p)


@command("predict", "tag or classify texts with ONNX Runtime alone",
         'rnnx predict export/pos "They are early birds ."   |   rnnx predict export/pos --input test.conllu --output pred.conllu')(
    _configure_predict)
def cmd_predict(args) -> int:
    from pipeline.runtime.predict_cli import predict_command

    return predict_command(args, emit)


# --------------------------------------------------------------------------- demo


def _configure_demo(p):
    p.add_argument("--quick", action="store_true", help="small slices and 1 epoch (a smoke run of the whole job)")
    p.add_argument("--skip-classifier", action="store_true")
    add_json(p)


@command("demo", "the main job: train, evaluate, export, check and bench a tagger and a classifier", "rnnx demo")(
    _configure_demo)
def cmd_demo(args) -> int:
    from pipeline.demo import run_demo

    summary = run_demo(quick=args.quick, classifier=not args.skip_classifier)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    return 0


# --------------------------------------------------------------------------- experiment

from pipeline.experiment.command import configure as _configure_experiment  # noqa: E402  (no TensorFlow import)


@command("experiment", "answer the lecture's RNN questions with measurements (report.md + results.json)",
         "rnnx experiment --quick --out experiments/quick")(_configure_experiment)
def cmd_experiment(args) -> int:
    from pipeline.experiment.command import experiment_command

    return experiment_command(args, emit)


# --------------------------------------------------------------------------- entry point


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
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
