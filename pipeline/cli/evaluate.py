"""``rnnx evaluate``: score a trained run on one of its splits, on a built-in dataset or on a file (:func:`evaluate_run`).

``--split`` alone picks a split of the corpus the run was trained on. ``--data NAME`` with a
built-in dataset scores the run on that dataset's ``--split`` (default test) instead: out of
domain, e.g. a ``brown-upos`` tagger on ``ewt-upos`` or an ``mr`` classifier on
``tweets-sentiment`` (evaluation-only datasets). ``--data FILE`` scores it on a file.
Out-of-vocabulary accuracy is always relative to the run's own vocabulary.
"""

from __future__ import annotations

from pipeline.cli.options import add_data_args, add_json
from pipeline.cli.registry import Command, emit, register
from pipeline.errors import RnnxError


def configure(p) -> None:
    from pipeline.data.datasets import SPLITS

    p.add_argument("run", help="a run folder, e.g. saved_models/pos")
    p.add_argument("--split", default="test", choices=list(SPLITS),
                   help="split to score (default test): of the run's own data, or of --data NAME when it names a "
                        "built-in dataset (ignored with --data FILE)")
    add_data_args(p)
    p.add_argument("--out", help="folder for eval_*.json and the confusion PNG (default evaluations/RUN_NAME; "
                                 "the run folder itself is never written)")
    add_json(p)


def evaluate_run(run_path, *, split: str = "test", data: str | None = None, data_format: str | None = None,
                 column: str = "upos", out: str | None = None) -> dict:
    """Score ``run_path`` on its ``split`` (or on the file ``data``); writes ``eval_*.json`` and a confusion PNG
    into ``out`` (default ``evaluations/RUN_NAME``), never into the run folder."""
    from pathlib import Path

    from pipeline.artifacts import write_json
    from pipeline.data.sources import load_file, resolve
    from pipeline.train.evaluate import evaluate_model
    from pipeline.train.rundir import load_run
    from pipeline.train.summary import DEV_ONLY_NOTE

    from pipeline.data.sources import is_builtin

    run = load_run(run_path)
    note = ""
    if data and is_builtin(data):
        from pipeline.data.datasets import load_dataset

        splits = load_dataset(data)
        if split not in splits:
            raise RnnxError(f"built-in dataset {data} has no {split} split; its splits are {', '.join(splits)}: "
                            f"pass --split {next(iter(splits))}")
        held = splits[split]
        prefix = "eval_" + "".join(c if c.isalnum() else "_" for c in f"{data}_{split}")
    elif data:
        held = load_file(data, data_format, column)
        prefix = "eval_" + "".join(c if c.isalnum() else "_" for c in held.source.split("/")[-1])
    else:
        cfg = run.config
        splits = resolve(cfg["data"], fmt=cfg.get("data_format"), column=cfg.get("column", "upos"),
                         dev=cfg.get("dev"), test=cfg.get("test"))
        if split not in splits:
            if split == "test" and "dev" in splits:
                raise RnnxError(f"{run_path}: {DEV_ONLY_NOTE}; or pass --split dev")
            raise RnnxError(f"{cfg['data']} has no {split} split; give --data FILE")
        held, prefix = splits[split], f"eval_{split}"
        if split == "dev" and "test" not in splits:
            note = DEV_ONLY_NOTE
    if held.task != run.task:
        raise RnnxError(f"{held.source} holds {held.task} data but {run_path} is a {run.task} model")
    unknown = sorted(set(held.label_counts()) - set(run.labels.names))
    if unknown:
        raise RnnxError(f"{held.source} has labels {run_path} never predicts ({', '.join(unknown[:8])}"
                        f"{' ...' if len(unknown) > 8 else ''}); it was trained on {run.labels.names[:8]} "
                        f"-- score it on data with the same label set")
    out_dir = Path(out) if out else Path("evaluations") / run.files.root.name
    if out_dir.resolve() == run.files.root.resolve():
        raise RnnxError(f"--out {out_dir} is the run folder; evaluations go to a folder of their own")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = evaluate_model(run.model, run.encoder, run.labels, held, out_dir=out_dir, prefix=prefix)
    report["run"] = str(run.files.root)
    if note:
        report["note"] = note
    report["written"] = str(out_dir / f"{prefix}.json")
    write_json(out_dir / f"{prefix}.json", report)
    return report


def run(args) -> int:
    from pipeline.scoring.metrics import format_report

    report = evaluate_run(args.run, split=args.split, data=args.data, data_format=args.data_format,
                          column=args.column, out=args.out)
    table = format_report(report) + f"\nwritten: {report['written']}"
    if report.get("note"):
        table += f"\nnote: {report['note']}"
    emit(args, table, report)
    return 0


register(Command("evaluate", "score a trained run on a split, a built-in dataset (out of domain) or a file",
                 "rnnx evaluate saved_models/pos --split test   |   rnnx evaluate saved_models/pos --data ewt-upos   "
                 "(out of domain; --split dev for its dev split)   |   rnnx evaluate saved_models/pos --data my.conllu",
                 configure, run))
