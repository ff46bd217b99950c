"""Corpus-scale prediction: files of any size through an export, in bounded memory, output in input order.

The input is read as a stream of *chunks*: runs of whole records (a line for ``lines``,
``wordtag`` and ``tsv`` files, a blank-line-separated sentence for ``conll`` and
``conllu``) of at most :data:`CHUNK_LINES` lines / :data:`CHUNK_CHARS` characters.
:func:`predict_chunk` parses one chunk with the format's reader
(:mod:`pipeline.data.readers`), predicts it in length-bucketed batches (the chunk is the
bucketing window) and renders it; chunks are written in input order. One process does
this in a loop (:func:`predict_stream`), ``--workers N`` hands the chunks to N processes
(:mod:`pipeline.runtime.predict`, :mod:`pipeline.runtime.workers`), a Dask cluster maps it over partitions
(:mod:`pipeline.runtime.cluster`). Every path renders a chunk with the same function, so
the outputs are equal byte for byte.

Input rules: UTF-8 by default (``encoding``: any ASCII-compatible codec, e.g. latin-1); a
byte-order mark is dropped; lines end at LF, CRLF or CR, never at U+2028, U+0085 or
other Unicode separators (they stay inside the line); a name ending in ``.gz`` is
gunzipped; a line longer than :data:`MAX_LINE_CHARS` bytes is refused (a binary file, not
text). What is written for each input format:

==========  ===================================  ======================================
input       tagger writes                        classifier writes
==========  ===================================  ======================================
lines       ``word/TAG`` line per input line     ``label<TAB>line`` per line
wordtag     ``word/TAG`` (gold tags replaced)    ``label<TAB>words``
tsv         ``label<TAB>word/TAG ...``           ``label<TAB>text`` (gold label replaced)
conll       input line + ``<TAB>TAG`` (gold      ``label<TAB>words`` per sentence
            kept, the prediction is the new
            last column: token ... gold pred)
conllu      the tag column replaced (gold        ``label<TAB>words`` per sentence
            replaced)
==========  ===================================  ======================================

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "in.txt"
>>> _ = p.write_bytes("one\\r\\ntwo\\u2028 three\\rfour\\n".encode())
>>> [c.lines for c in iter_chunks(p, "lines")]
[['one', 'two\\u2028 three', 'four']]
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.errors import DataError, RnnxError

LINE_FORMATS = ("lines", "wordtag", "tsv")  # one record per line
BLOCK_FORMATS = ("conll", "conllu")  # one record per blank-line-separated block
CHUNK_LINES = 4096  # a chunk closes at this many lines ...
CHUNK_CHARS = 1 << 19  # ... or characters (512 Ki), at a record boundary
MAX_LINE_CHARS = 1 << 20  # a longer "line" is not text
MAX_BLOCK_LINES = 100_000  # a longer CoNLL sentence lacks its blank lines
_READ_BYTES = 1 << 20
_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass
class Chunk:
    """Whole records of one file: ``lines`` (no line ends), the first one at line ``start``."""

    path: str
    start: int
    lines: list[str]
    fmt: str


@dataclass
class ChunkResult:
    text: str  # the rendered output (JSON: the items, joined by ",\n")
    records: int = 0
    tokens: int = 0
    replaced_gold: bool = False


# ----------------------------------------------------------------------------- files


def input_files(spec: str | Path) -> list[Path]:
    """The files named by ``--input``: one file, a folder (its files in name order) or a glob pattern."""
    from pipeline.data.stream import corpus_files

    spec = str(spec)
    files = corpus_files(spec)
    if files is not None:
        return files
    path = Path(spec)
    if not path.exists():
        raise DataError(f"--input {spec} does not exist; give a file, a folder or a glob pattern")
    if not path.is_file():
        raise DataError(f"--input {spec} is not a regular file; give a file, a folder or a glob pattern")
    return [path]


def is_gzip(path: Path | str) -> bool:
    return str(path).lower().endswith(".gz")


def base_suffix(path: Path | str) -> str:
    """The extension that names the format: ``x.conllu.gz`` -> ``.conllu``."""
    p = Path(path)
    if is_gzip(p):
        p = p.with_suffix("")
    return p.suffix.lower()


def _check_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise RnnxError(f"--encoding {encoding!r} is not a known text encoding; try utf-8 or latin-1") from None
    if "\n".encode(name) != b"\n" or "\r".encode(name) != b"\r":
        raise RnnxError(f"--encoding {encoding}: only ASCII-compatible encodings are read (utf-8, latin-1, "
                        f"cp1252 ...); convert the file to UTF-8 first")
    return name


def iter_lines(path: Path | str, encoding: str = "utf-8") -> Iterator[str]:
    """The lines of ``path`` (gzip by name), decoded one by one; a bad byte names its line."""
    path = Path(path)
    enc = _check_encoding(encoding)
    utf8 = enc == "utf-8"
    n = 0
    opener = gzip.open if is_gzip(path) else open
    try:
        with opener(path, "rb") as f:
            rest = b""
            while True:
                data = f.read(_READ_BYTES)
                buf = rest + data
                if not data:
                    if buf:
                        n += 1
                        yield _decode(buf, path, n, enc, utf8 and n == 1)
                    return
                keep = 1 if buf.endswith(b"\r") else 0  # a CR at the end may be half of a CRLF
                parts = _EOL.split(buf[: len(buf) - keep])
                rest = parts.pop() + buf[len(buf) - keep:]
                for raw in parts:
                    n += 1
                    yield _decode(raw, path, n, enc, utf8 and n == 1)
                if len(rest) > MAX_LINE_CHARS:
                    raise DataError(f"{path} line {n + 1} is longer than {MAX_LINE_CHARS:,} bytes: this does not "
                                    f"look like a text file; give one text per line")
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise DataError(f"{path}: no such file; check the path") from None
        what = "not a valid gzip file" if is_gzip(path) else "cannot be read"
        raise DataError(f"{path}: {what} ({exc.__class__.__name__}: {exc}); check the file") from None


def _decode(raw: bytes, path: Path, n: int, enc: str, first: bool) -> str:
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} line {n}: not valid {enc} ({exc.reason} at byte {exc.start + 1} of the line); "
                        f"save the file as UTF-8 or pass --encoding (e.g. latin-1)") from None
    if first and text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise DataError(f"{path} line {n}: a NUL byte; this looks like a binary file, not text")
    return text


def detect_input_format(path: Path | str, fmt: str | None = None, encoding: str = "utf-8") -> str:
    """``fmt`` if given, else the format named by the extension (``.gz`` looked through), else sniffed
    from the first lines; plain text (``lines``) when no format fits."""
    from pipeline.data.readers import FORMATS, SNIFF_LINES, detect_format

    if fmt:
        return fmt
    by_ext = {ext: f.name for f in FORMATS.values() for ext in f.extensions}
    suffix = base_suffix(path)
    if suffix in by_ext:
        return by_ext[suffix]
    sample = []
    for line in iter_lines(path, encoding):
        sample.append(line)
        if len(sample) >= SNIFF_LINES:
            break
    if not any(s.strip() for s in sample):
        return "lines"
    try:
        return detect_format(Path(path).with_suffix(".sniff"), sample)
    except RnnxError:
        return "lines"


def iter_chunks(path: Path | str, fmt: str, encoding: str = "utf-8", *, max_lines: int = CHUNK_LINES,
                max_chars: int = CHUNK_CHARS) -> Iterator[Chunk]:
    """Chunks of whole records of ``path`` in ``fmt``, in file order."""
    yield from chunk_lines(iter_lines(path, encoding), str(path), fmt, max_lines=max_lines, max_chars=max_chars)


def chunk_lines(lines: Iterable[str], where: str, fmt: str, *, start: int = 1, max_lines: int = CHUNK_LINES,
                max_chars: int = CHUNK_CHARS) -> Iterator[Chunk]:
    """Cut a stream of lines into :class:`Chunk` s (block formats only at a blank line)."""
    block = fmt in BLOCK_FORMATS
    buf: list[str] = []
    chars = 0
    first = start
    since_blank = 0
    for n, line in enumerate(lines, start):
        buf.append(line)
        chars += len(line) + 1
        blank = not line.strip()
        since_blank = 0 if blank else since_blank + 1
        if block and since_blank > MAX_BLOCK_LINES:
            raise DataError(f"{where} line {n}: over {MAX_BLOCK_LINES:,} lines without a blank line; CoNLL "
                            f"sentences are separated by blank lines (or pass --format lines)")
        if (len(buf) >= max_lines or chars >= max_chars) and (not block or blank):
            yield Chunk(where, first, buf, fmt)
            first, buf, chars = n + 1, [], 0
    if buf:
        yield Chunk(where, first, buf, fmt)


# ----------------------------------------------------------------------------- one chunk


_WHERE_LINE = re.compile(r"^(?P<where>.*?) line (?P<n>\d+):")


def _shift(message: str, where: str, offset: int) -> str:
    """A reader's ``WHERE line N:`` message for a chunk that starts at line ``offset + 1``."""
    prefix = f"{where} line "
    if message.startswith(prefix):
        m = re.match(r"(\d+)", message[len(prefix):])
        if m:
            return f"{prefix}{int(m.group(1)) + offset}{message[len(prefix) + m.end():]}"
    return message


def parse_chunk(chunk: Chunk, column: str, tokenize) -> tuple[list[list[str]], list, dict]:
    """``(tokens, gold labels or None per record, meta)`` of a chunk, parsed by its format's reader."""
    if chunk.fmt == "lines":
        return [tokenize(line) for line in chunk.lines], [None] * len(chunk.lines), {"texts": chunk.lines}
    from pipeline.data.readers import FORMATS, CONLLU_COLUMNS
    from pipeline.errors import ConfigError

    if chunk.fmt not in FORMATS:
        raise ConfigError(f"unknown format {chunk.fmt!r}; choose one of lines, {', '.join(FORMATS)}")
    if column not in CONLLU_COLUMNS:
        raise ConfigError(f"column must be one of {', '.join(CONLLU_COLUMNS)}, got {column!r}")
    try:
        tokens, labels, meta = FORMATS[chunk.fmt].read(chunk.lines, chunk.path, column)
    except DataError as exc:
        raise DataError(_shift(str(exc), chunk.path, chunk.start - 1)) from None
    return tokens, labels, meta


def predict_chunk(model, chunk: Chunk, *, column: str = "upos", json_items: bool = False,
                  batch_size: int = 32) -> ChunkResult:
    """Parse, predict (length-bucketed inside the chunk) and render one chunk."""
    tokens, gold, meta = parse_chunk(chunk, column, model.tokenize)
    if not tokens:
        return ChunkResult("")
    if model.task == "classification":
        for i, toks in enumerate(tokens):
            if not toks:
                where = f"{chunk.path} line {chunk.start + i}" if chunk.fmt == "lines" else chunk.path
                raise DataError(f"{where}: a text is empty; there is nothing to classify; remove the line or give "
                                f"it text")
    preds = model.predict_tokens(tokens, batch_size=batch_size)
    result = ChunkResult("", len(tokens), sum(len(t) for t in tokens))
    if json_items:
        if model.task == "tagging":
            items = [{"tokens": t, "tags": p} for t, p in zip(tokens, preds)]
        else:
            items = [{"tokens": t, "label": p[0], "probabilities": p[1]} for t, p in zip(tokens, preds)]
        result.text = ",\n".join(json.dumps(it, ensure_ascii=False) for it in items)
        return result
    result.text, result.replaced_gold = _render(model.task, chunk.fmt, tokens, gold, meta, preds, column)
    return result


def _wordtag(words, tags) -> str:
    return " ".join(f"{w}/{t}" for w, t in zip(words, tags))


def _render(task: str, fmt: str, tokens, gold, meta, preds, column: str) -> tuple[str, bool]:
    from pipeline.data.corpus import Split
    from pipeline.data.readers import render

    if task == "classification":
        labels = [p[0] for p in preds]
        texts = meta.get("texts") if fmt in ("lines", "tsv") else None
        text = "".join(f"{lab}\t{texts[i] if texts is not None else ' '.join(tokens[i])}\n"
                       for i, lab in enumerate(labels))
        return text, fmt == "tsv"
    if fmt == "lines":
        return "".join(_wordtag(w, t) + "\n" for w, t in zip(tokens, preds)), False
    if fmt == "tsv":  # a tagger on label<TAB>text lines: keep the label, tag the text
        return "".join(f"{g}\t{_wordtag(w, t)}\n" for g, w, t in zip(gold, tokens, preds)), False
    if fmt == "conll":  # keep every input column; the prediction is the new last one
        out = []
        for orig, tags in zip(meta["conll_lines"], preds):
            for line in orig["prefix"]:
                out += [line, ""]
            out += [f"{line.rstrip()}\t{tag}" for line, tag in zip(orig["lines"], tags)]
            out.append("")
        return "\n".join(out) + "\n", False
    split = Split("tagging", tokens, preds, None, {"format": fmt, "column": column, **meta})
    replaced = fmt == "wordtag" or (fmt == "conllu" and meta.get("unlabelled_tokens", 0) < sum(map(len, tokens)))
    return render(split, fmt), replaced
