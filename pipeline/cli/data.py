"""``rnnx data``: list the built-in corpora, or describe one (or a file): sizes, labels, lengths."""

from __future__ import annotations

from pipeline.cli.options import add_column, add_format, add_json
from pipeline.cli.registry import Command, emit, register


def configure(p) -> None:
    sub = p.add_subparsers(dest="data_cmd", required=True)
    ls = sub.add_parser("list", help="list built-in datasets")
    add_json(ls)
    show = sub.add_parser("show", help="sizes, label distribution and sentence lengths of a dataset or file")
    show.add_argument("name", help="built-in dataset name or a file path")
    add_format(show)
    add_column(show)
    add_json(show)


def run(args) -> int:
    from pipeline.data import datasets

    if args.data_cmd == "list":
        rows = datasets.list_datasets()
        width = max(len(r["name"]) for r in rows)
        table = "\n".join(f"{r['name']:<{width}}  {r['task']:<15} {r['description']}" for r in rows)
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


register(Command("data", "list and inspect corpora", "rnnx data show brown-upos", configure, run))
