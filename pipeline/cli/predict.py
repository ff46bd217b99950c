"""``rnnx predict``: tag or classify with ONNX Runtime alone (no TensorFlow, no Keras).

Texts on the command line are tokenised on spaces and punctuation
(:func:`pipeline.data.tokenize.tokenize`). With ``--input FILE`` the predictions
are written in the file's own format, so a tagged corpus can be diffed against
gold: CoNLL-U (the chosen tag column replaced), CoNLL columns (last column
replaced), ``word/tag`` lines, ``label<TAB>text`` TSV; a plain file with one raw
text per line (``--format lines``) gives ``word/TAG`` lines for a tagger and
``label<TAB>text`` for a classifier.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli.options import add_column, add_format, add_json
from pipeline.cli.registry import Command, emit, register
from pipeline.errors import RnnxError


def configure(p) -> None:
    p.add_argument("export", help="an export folder, e.g. export/pos")
    p.add_argument("texts", nargs="*", help="texts to tag or classify (tokens split on spaces and punctuation)")
    p.add_argument("--input", help="a file: one text per line, or a CoNLL/CoNLL-U/word-tag/TSV file")
    add_format(p, extra=("lines",), help="format of --input (detected when left out; 'lines' = one raw text per line)")
    add_column(p)
    p.add_argument("--output", help="write predictions here, in the input's format (default: stdout)")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all cores)")
    add_json(p)


def _load_inputs(args, tokenize):
    """Token lists, the parsed split (None for raw texts) and the format."""
    if args.input and args.texts:
        raise RnnxError("give texts on the command line or --input FILE, not both")
    if not args.input:
        if not args.texts:
            raise RnnxError('nothing to predict: give texts ("They are early birds .") or --input FILE')
        return [tokenize(t) for t in args.texts], None, "lines"
    path = Path(args.input)
    if not path.exists():
        raise RnnxError(f"--input {path} does not exist")
    fmt = args.data_format
    if fmt is None:
        from pipeline.data.readers import detect_format

        try:
            fmt = detect_format(path)
        except RnnxError:
            fmt = "lines"
    if fmt == "lines":
        texts = path.read_text(encoding="utf-8-sig").splitlines()
        return [tokenize(t) for t in texts], None, "lines"
    from pipeline.data.readers import read_file

    split = read_file(path, fmt, column=args.column)
    return split.tokens, split, fmt


def run(args) -> int:
    from pipeline.runtime.session import load

    model = load(args.export, threads=args.threads)
    tokens, split, fmt = _load_inputs(args, model.tokenize)
    if model.task == "classification":
        empty = [i for i, t in enumerate(tokens) if not t]
        if empty:
            where = f"{args.input} line {empty[0] + 1}" if args.input else f"text {empty[0] + 1}"
            raise RnnxError(f"{where} is empty: there is nothing to classify; remove it or give it text")
    predictions = model.predict_tokens(tokens)
    if args.json:
        if model.task == "tagging":
            data = [{"tokens": t, "tags": p} for t, p in zip(tokens, predictions)]
        else:
            data = [{"tokens": t, "label": p[0], "probabilities": p[1]} for t, p in zip(tokens, predictions)]
        emit(args, "", data)
        return 0
    from pipeline.data.corpus import Split
    from pipeline.data.readers import render

    labels = predictions if model.task == "tagging" else [p[0] for p in predictions]
    if split is None:  # raw texts: word/TAG lines for a tagger, label<TAB>text for a classifier
        split, fmt = Split(model.task, tokens, labels), ("wordtag" if model.task == "tagging" else "tsv")
    text = render(Split(split.task, split.tokens, labels, split.source, dict(split.meta)), fmt)
    if args.output:
        from pipeline.artifacts import write_text

        write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


register(Command(
    "predict", "tag or classify texts with ONNX Runtime alone",
    'rnnx predict export/pos "They are early birds ."   |   rnnx predict export/pos --input test.conllu --output pred.conllu',
    configure, run))
