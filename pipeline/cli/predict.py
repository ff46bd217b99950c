"""``rnnx predict``: tag or classify with ONNX Runtime alone (no TensorFlow, no Keras).

Texts on the command line are tokenised on spaces and punctuation
(:func:`pipeline.data.tokenize.tokenize`). ``--input`` takes a file, a folder or a glob
(``corpus/*.txt.gz``) and *streams* it (:mod:`pipeline.runtime.corpus`): read, batched
by length inside a bounded window, predicted and written chunk by chunk, in input order,
in bounded memory whatever the size. Several files are written one after the other to
one output. Names ending in ``.gz`` are read and written gzipped. Output per input format:

- plain text, one text per line (``--format lines``, or whatever no format fits):
  ``word/TAG`` lines for a tagger, ``label<TAB>text`` for a classifier, one per input line;
- CoNLL columns: every input column kept, the predicted tag added as a new last column
  (``token ... gold pred``, what conlleval reads);
- CoNLL-U and ``word/tag`` lines: the tag column replaced by the prediction (a note on
  stderr says so when the input had tags);
- ``label<TAB>text``: a classifier replaces the label (noted on stderr), a tagger keeps the
  label and tags the text (``label<TAB>word/TAG ...``);
- a classifier given a tagging format classifies each sentence: ``label<TAB>words``.

``--workers N`` runs N processes with one ONNX Runtime thread each; ``--cluster
ADDRESS`` (or ``local``) runs on Dask (``pip install 'rnnx[cluster]'``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.cli.options import add_column, add_format, add_json
from pipeline.cli.registry import Command, emit, register
from pipeline.errors import RnnxError


def configure(p) -> None:
    p.add_argument("export", help="an export folder, e.g. export/pos")
    p.add_argument("texts", nargs="*", help="texts to tag or classify (tokens split on spaces and punctuation)")
    p.add_argument("--input", help="a file, a folder or a glob of files (.gz read gzipped): one text per line, "
                                   "or CoNLL/CoNLL-U/word-tag/TSV files")
    add_format(p, extra=("lines",), help="format of --input (detected when left out; 'lines' = one raw text per line)")
    add_column(p)
    p.add_argument("--output", help="write predictions here (a name ending in .gz is gzipped; default: stdout); "
                                    "never one of the --input files")
    p.add_argument("--encoding", default="utf-8", help="text encoding of --input (default utf-8; e.g. latin-1)")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads of a single process (default: all cores)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes, each with a one-thread ONNX Runtime session (default 1); with --cluster local: "
                        "the local Dask workers")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run on a Dask cluster: a scheduler address (tcp://host:8786) or 'local' (a cluster of "
                        "--workers processes on this machine); needs pip install 'rnnx[cluster]' and --output")
    p.add_argument("--batch-size", type=int, default=32, help="texts per ONNX Runtime call (default 32)")
    p.add_argument("--progress", action=__import__("argparse").BooleanOptionalAction, default=None,
                   help="progress bar with tokens/s on stderr (default: on a terminal only)")
    add_json(p)


def _texts(args, model) -> int:
    if not args.texts:
        raise RnnxError('nothing to predict: give texts ("They are early birds .") or --input FILE')
    tokens = [model.tokenize(t) for t in args.texts]
    if model.task == "classification":
        empty = [i for i, t in enumerate(tokens) if not t]
        if empty:
            raise RnnxError(f"text {empty[0] + 1} is empty: there is nothing to classify; remove it or give it text")
    predictions = model.predict_tokens(tokens, batch_size=args.batch_size)
    if args.json:
        if model.task == "tagging":
            data = [{"tokens": t, "tags": p} for t, p in zip(tokens, predictions)]
        else:
            data = [{"tokens": t, "label": p[0], "probabilities": p[1]} for t, p in zip(tokens, predictions)]
        emit(args, "", data)
        return 0
    if model.task == "tagging":
        sys.stdout.write("".join(" ".join(f"{w}/{t}" for w, t in zip(toks, tags)) + "\n"
                                 for toks, tags in zip(tokens, predictions)))
    else:
        sys.stdout.write("".join(f"{p[0]}\t{text}\n" for p, text in zip(predictions, args.texts)))
    return 0


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(output: str | None, files: list[Path]) -> Path | None:
    """Refuse an ``--output`` that is one of the input files (it would overwrite the gold file) or a folder."""
    if output is None:
        return None
    out = Path(output)
    if out.is_dir():
        raise RnnxError(f"--output {output} is a folder; give a file name (all inputs are written to it in order)")
    for f in files:
        if _same_file(out, f) or out.resolve() == f.resolve():
            raise RnnxError(f"--output {output} is the --input file {f}: that would overwrite the input; "
                            f"give another --output")
    return out


def _check_export(folder: str) -> None:
    p = Path(folder)
    if not p.is_dir():
        raise RnnxError(f"{p} does not exist; export a model with `rnnx export saved_models/NAME`")
    if not (p / "export.json").exists():
        raise RnnxError(f"{p / 'export.json'} is missing: {p} is not a complete rnnx export (run `rnnx export`)")


def _note_replaced(stats_replaced) -> None:
    for path, fmt in stats_replaced:
        what = "label" if fmt == "tsv" else "tags"
        print(f"rnnx predict: note: {path} had gold {what}; the output's {what} are the predictions "
              f"(the input's are not kept; CoNLL column files keep them and add the prediction as a last column)",
              file=sys.stderr)


def _input(args) -> int:
    from pipeline.runtime.corpus import input_files
    from pipeline.runtime.predict import Progress, predict_stream

    if args.texts:
        raise RnnxError("give texts on the command line or --input FILE, not both")
    if args.workers < 1:
        raise RnnxError(f"--workers must be >= 1, got {args.workers}")
    if args.workers > 1 and args.threads not in (None, 1):
        raise RnnxError("--workers runs one ONNX Runtime thread per process; give --threads for one process or "
                        "--workers N, not both")
    if args.batch_size < 1:
        raise RnnxError(f"--batch-size must be >= 1, got {args.batch_size}")
    _check_export(args.export)
    files = input_files(args.input)
    out = check_output(args.output, files)
    if args.cluster:
        return _cluster(args, files, out)
    progress = Progress(enabled=args.progress)
    if out is None:
        stats = predict_stream(args.export, files, sys.stdout, fmt=args.data_format, column=args.column,
                               encoding=args.encoding, workers=args.workers, threads=args.threads,
                               batch_size=args.batch_size, json_items=args.json, progress=progress)
    else:
        import gzip

        from pipeline.artifacts import atomic_path

        with atomic_path(out) as tmp:
            opener = gzip.open if str(out).lower().endswith(".gz") else open
            with opener(tmp, "wt", encoding="utf-8", newline="") as f:
                stats = predict_stream(args.export, files, f, fmt=args.data_format, column=args.column,
                                       encoding=args.encoding, workers=args.workers, threads=args.threads,
                                       batch_size=args.batch_size, json_items=args.json, progress=progress)
    _note_replaced(stats.replaced_gold)
    return 0


def _cluster(args, files, out) -> int:
    from pipeline.runtime.cluster import connect, predict_files

    if out is None:
        raise RnnxError("--cluster writes to a file: give --output (on storage every worker can reach)")
    if args.json:
        raise RnnxError("--cluster writes the input's format; --json is for one machine")
    import time

    t0 = time.perf_counter()
    client = connect(args.cluster, workers=args.workers)
    started = time.perf_counter() - t0
    try:
        stats = predict_files(client, args.export, files, out, fmt=args.data_format, column=args.column,
                              encoding=args.encoding, batch_size=args.batch_size)
    finally:
        cluster = client.cluster if args.cluster == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()
    if args.progress:
        rate = stats["tokens"] / stats["seconds"] if stats["seconds"] else 0.0
        print(f"rnnx predict: {stats['records']:,} texts, {stats['tokens']:,} tokens in {stats['seconds']:.2f} s "
              f"({rate:,.0f} tokens/s) on {stats['workers']} Dask workers, {stats['partitions']} partitions; "
              f"cluster start {started:.2f} s", file=sys.stderr)
    if stats["replaced_gold"]:
        print("rnnx predict: note: the input had gold tags/labels; the output's are the predictions",
              file=sys.stderr)
    return 0


def run(args) -> int:
    if args.input:
        return _input(args)
    from pipeline.runtime.session import load

    model = load(args.export, threads=args.threads)
    return _texts(args, model)


register(Command(
    "predict", "tag or classify texts with ONNX Runtime alone",
    'rnnx predict export/pos "They are early birds ."   |   rnnx predict export/pos --input test.conllu --output pred.conllu'
    "   |   rnnx predict export/pos --input 'corpus/*.txt.gz' --output tagged.txt.gz --workers 2",
    configure, run))
