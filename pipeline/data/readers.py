"""Read and write user corpora: CoNLL-U, CoNLL columns, word/tag lines, label<TAB>text.

Formats live in a registry (:data:`FORMATS`), one reader, writer and content
sniffer each; adding a format means adding one :class:`Format`.

============  ==============  =========================================================
name          task            one sequence is ...
============  ==============  =========================================================
``conllu``    tagging         a CoNLL-U sentence (10 tab-separated columns); tags from
                              UPOS (``column="upos"``) or XPOS (``column="xpos"``);
                              ``#`` comments, ``1-2`` multiword and ``1.1`` empty-node
                              lines are skipped
``conll``     tagging         a block of ``token ... tag`` lines (whitespace-separated,
                              token first, tag last, blank line between sentences,
                              ``-DOCSTART-`` lines skipped)
``wordtag``   tagging         a line of ``word/TAG`` tokens (split at the last ``/``)
``tsv``       classification  a line ``label<TAB>text``; the text is tokenised with
                              :func:`pipeline.data.tokenize.tokenize`
============  ==============  =========================================================

Files are UTF-8 (a byte-order mark is ignored) with LF or CRLF line ends. Every
problem is a :class:`DataError` of the form ``PATH line N: what is wrong; what to
do``. :func:`write_file` writes a split back in any of the formats (atomically);
for CoNLL-U, CoNLL and TSV files it was read from, it rewrites the original lines
with only the tag column / label replaced.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.txt"
>>> _ = p.write_text("They/PRON are/VERB early/ADV ./.\\n", encoding="utf-8")
>>> detect_format(p)
'wordtag'
>>> s = read_file(p)
>>> s.tokens, s.labels
([['They', 'are', 'early', '.']], [['PRON', 'VERB', 'ADV', '.']])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.data.corpus import Split
from pipeline.data.tokenize import tokenize
from pipeline.errors import ConfigError, DataError

SNIFF_LINES = 200  # first lines (blank ones included) that format sniffing looks at
CONLLU_COLUMNS = {"upos": 3, "xpos": 4}
_CONLLU_ID = re.compile(r"^\d+(?:[-.]\d+)?$")
_LAST_FIELD = re.compile(r"\S+(?=\s*$)")


@dataclass(frozen=True)
class Format:
    name: str
    task: str
    extensions: tuple[str, ...]
    description: str
    read: Callable[[list[str], str, str], tuple[list, list, dict]]  # (lines, where, column) -> tokens, labels, meta
    write: Callable[[Split], str]
    sniff: Callable[[list[str]], bool]  # first lines of a file -> looks like this format?


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


# ----------------------------------------------------------------------------- public API


def read_file(path: Path | str, fmt: str | None = None, column: str = "upos") -> Split:
    """The file at ``path`` as a :class:`Split` (format detected when ``fmt`` is None)."""
    path = Path(path)
    if column not in CONLLU_COLUMNS:
        raise ConfigError(f"column must be one of {', '.join(CONLLU_COLUMNS)}, got {column!r}")
    lines = _read_lines(path)
    name = fmt or detect_format(path, lines)
    spec = _format(name)
    tokens, labels, meta = spec.read(lines, str(path), column)
    if not tokens:
        raise DataError(f"{path}: no {'sentences' if spec.task == 'tagging' else 'texts'} found in this "
                        f"{name} file; check the file and --format")
    meta = {"format": name, "path": str(path), **meta}
    return Split(spec.task, tokens, labels, str(path), meta)


def detect_format(path: Path | str, lines: list[str] | None = None) -> str:
    """The format name for ``path``: from its extension, else from its first lines."""
    path = Path(path)
    by_ext = {ext: f.name for f in FORMATS.values() for ext in f.extensions}
    if path.suffix.lower() in by_ext:
        return by_ext[path.suffix.lower()]
    lines = _read_lines(path) if lines is None else lines
    sample = lines[:SNIFF_LINES]
    found = [f.name for f in FORMATS.values() if f.sniff(sample)]
    if "conllu" in found:  # CoNLL-U lines are CoNLL column lines too; the stricter one wins
        found = ["conllu"]
    if len(found) == 1:
        return found[0]
    known = ", ".join(FORMATS)
    if not found:
        raise DataError(f"{path}: cannot tell the file format from its first lines; pass --format "
                        f"(one of {known}) and check the file against that format")
    raise DataError(f"{path}: the first lines could be {' or '.join(found)}; pass --format to choose")


def render(split: Split, fmt: str) -> str:
    """``split`` as the text of a ``fmt`` file (what :func:`write_file` writes)."""
    spec = _format(fmt)
    if spec.task != split.task:
        fits = ", ".join(f.name for f in FORMATS.values() if f.task == split.task)
        raise DataError(f"cannot write {split.task} data as {fmt} (a {spec.task} format); use {fits}")
    return spec.write(split)


def write_file(path: Path | str, split: Split, fmt: str) -> Path:
    """Write ``split`` to ``path`` in format ``fmt`` (temp file, then rename)."""
    from pipeline.artifacts import write_text

    text = render(split, fmt)
    write_text(path, text)
    return Path(path)


# ----------------------------------------------------------------------------- shared helpers


def _format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}") from None


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a file")
    try:
        data = path.read_bytes()
    except OSError as exc:  # unreadable: permissions, a device, an I/O error
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); check the path and its permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path} line {line}: not valid UTF-8 ({exc.reason}); save the file as UTF-8") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty; give a file with data in it")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _aligned(split: Split, key: str, tokens_of: Callable[[object], list[str]]) -> list | None:
    """The per-sequence originals in ``meta[key]`` if they still match ``split`` one to one."""
    originals = split.meta.get(key)
    if originals is None or len(originals) != len(split):
        return None
    for orig, toks in zip(originals, split.tokens):
        if tokens_of(orig) != list(toks):
            return None
    return originals


# ----------------------------------------------------------------------------- conllu


def _conllu_read(lines: list[str], where: str, column: str):
    col = CONLLU_COLUMNS[column]
    tokens, labels, originals = [], [], []
    words, tags, pending = [], [], []
    unlabelled = 0

    def flush():
        nonlocal words, tags, pending
        if words:
            tokens.append(words)
            labels.append(tags)
            originals.append(pending)
            words, tags, pending = [], [], []

    for n, line in enumerate(lines, 1):
        if not line.strip():
            flush()
            continue
        pending.append(line)
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataError(f"{where} line {n}: CoNLL-U needs 10 tab-separated columns, found {len(fields)}; "
                            f"separate columns with tabs and write _ for empty ones (or pass --format conll)")
        if not _CONLLU_ID.match(fields[0]):
            raise DataError(f"{where} line {n}: ID {fields[0]!r} is not a word index (1, 2, ... or 1-2, 1.1)")
        if "-" in fields[0] or "." in fields[0]:
            continue  # multiword token or empty node: not a tagged word
        form, tag = fields[1], fields[col].strip()
        if not form or not tag:
            what = "FORM" if not form else column.upper()
            raise DataError(f"{where} line {n}: the {what} column is empty; write _ for a missing value")
        unlabelled += tag == "_"
        words.append(form)
        tags.append(tag)
    flush()
    return tokens, labels, {"column": column, "conllu_lines": originals, "unlabelled_tokens": unlabelled}


def _conllu_forms(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if "-" not in fields[0] and "." not in fields[0]:
            out.append(fields[1])
    return out


def _conllu_write(split: Split) -> str:
    col = CONLLU_COLUMNS[split.meta.get("column", "upos")]
    originals = _aligned(split, "conllu_lines", _conllu_forms)
    out = []
    for i, (words, tags) in enumerate(zip(split.tokens, split.labels)):
        if originals is not None:
            it = iter(tags)
            for line in originals[i]:
                fields = line.split("\t")
                if not line.startswith("#") and "-" not in fields[0] and "." not in fields[0]:
                    fields[col] = next(it)
                out.append("\t".join(fields))
        else:
            for j, (w, t) in enumerate(zip(words, tags), 1):
                fields = [str(j), w] + ["_"] * 8
                fields[col] = t
                out.append("\t".join(fields))
        out.append("")
    return "\n".join(out) + "\n"


def _conllu_sniff(sample: list[str]) -> bool:
    rows = [ln for ln in sample if ln.strip() and not ln.startswith("#")]
    return bool(rows) and all(
        len(f := ln.split("\t")) == 10 and _CONLLU_ID.match(f[0]) for ln in rows
    )


register(Format(
    "conllu", "tagging", (".conllu",), "CoNLL-U: 10 tab-separated columns, tags from UPOS or XPOS",
    _conllu_read, _conllu_write, _conllu_sniff,
))


# ----------------------------------------------------------------------------- conll


def _is_docstart(fields: list[str]) -> bool:
    return bool(fields) and fields[0] == "-DOCSTART-"


def _conll_read(lines: list[str], where: str, column: str):
    tokens, labels, originals = [], [], []
    words, tags, pending, prefix = [], [], [], []
    width = first = None

    def flush():
        nonlocal words, tags, pending, prefix
        if words:
            tokens.append(words)
            labels.append(tags)
            originals.append({"prefix": prefix, "lines": pending})
            words, tags, pending, prefix = [], [], [], []

    for n, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            flush()
            continue
        if _is_docstart(fields):
            flush()
            prefix.append(line)
            continue
        if len(fields) < 2:
            raise DataError(f"{where} line {n}: a CoNLL token line needs at least 2 columns (token first, tag "
                            f"last), found 1; add the tag, or leave a blank line between sentences")
        if width is None:
            width, first = len(fields), n
        elif len(fields) != width:
            raise DataError(f"{where} line {n}: {len(fields)} columns, but line {first} has {width}; every "
                            f"token line needs the same columns (token first, tag last, no spaces inside a column)")
        pending.append(line)
        words.append(fields[0])
        tags.append(fields[-1])
    flush()
    return tokens, labels, {"conll_lines": originals, "columns": width}


def _conll_write(split: Split) -> str:
    originals = _aligned(split, "conll_lines", lambda o: [ln.split()[0] for ln in o["lines"]])
    out = []
    for i, (words, tags) in enumerate(zip(split.tokens, split.labels)):
        if originals is not None:
            for line in originals[i]["prefix"]:
                out += [line, ""]
            for line, tag in zip(originals[i]["lines"], tags):
                m = _LAST_FIELD.search(line)
                out.append(line[: m.start()] + tag + line[m.end():])
        else:
            out += [f"{w}\t{t}" for w, t in zip(words, tags)]
        out.append("")
    return "\n".join(out) + "\n"


def _conll_sniff(sample: list[str]) -> bool:
    """Same column count (>= 2) on every token line, not all word/tag, and some
    sign of CoNLL: tab-separated columns, ``-DOCSTART-`` or a blank line between
    token lines (raw text with two words per line is not taken for CoNLL)."""
    widths = set()
    slashed = True
    evidence = False
    seen_tokens = blank_after_tokens = False
    for ln in sample:
        fields = ln.split()
        if not fields:
            blank_after_tokens = blank_after_tokens or seen_tokens
            continue
        if _is_docstart(fields):
            evidence = True
            continue
        if "\t" in ln.strip():
            if any(" " in f.strip() for f in ln.strip().split("\t")):
                return False  # a tab-separated column with spaces inside: not CoNLL columns
            evidence = True
        evidence = evidence or blank_after_tokens
        seen_tokens = True
        widths.add(len(fields))
        slashed = slashed and all("/" in f for f in fields)
    return evidence and len(widths) == 1 and min(widths) >= 2 and not slashed


register(Format(
    "conll", "tagging", (".conll", ".bio", ".iob", ".iob2", ".bioes"),
    "CoNLL columns: token first, tag last, blank line between sentences",
    _conll_read, _conll_write, _conll_sniff,
))


# ----------------------------------------------------------------------------- wordtag


def _wordtag_read(lines: list[str], where: str, column: str):
    tokens, labels = [], []
    for n, line in enumerate(lines, 1):
        items = line.split()
        if not items:
            continue
        words, tags = [], []
        for item in items:
            word, sep, tag = item.rpartition("/")
            if not sep:
                raise DataError(f"{where} line {n}: token {item!r} has no /tag; write every token as word/TAG "
                                f"(the tag follows the last '/'), or pass --format if this is another format")
            if not word or not tag:
                raise DataError(f"{where} line {n}: token {item!r} has an empty {'word' if not word else 'tag'}; "
                                f"write every token as word/TAG")
            words.append(word)
            tags.append(tag)
        tokens.append(words)
        labels.append(tags)
    return tokens, labels, {}


def _wordtag_write(split: Split) -> str:
    return "".join(" ".join(f"{w}/{t}" for w, t in zip(words, tags)) + "\n"
                   for words, tags in zip(split.tokens, split.labels))


def _wordtag_sniff(sample: list[str]) -> bool:
    def ok(item: str) -> bool:
        word, sep, tag = item.rpartition("/")
        return bool(sep and word and tag)

    rows = [ln for ln in sample if ln.strip()]
    return bool(rows) and all(ok(item) for ln in rows for item in ln.split())


register(Format(
    "wordtag", "tagging", (), "one sentence per line, word/TAG tokens (split at the last '/')",
    _wordtag_read, _wordtag_write, _wordtag_sniff,
))


# ----------------------------------------------------------------------------- tsv


def _tsv_read(lines: list[str], where: str, column: str):
    tokens, labels, texts = [], [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep:
            raise DataError(f"{where} line {n}: no tab; write label<TAB>text on every line")
        if not label.strip():
            raise DataError(f"{where} line {n}: the label before the tab is empty; write label<TAB>text")
        if not text.strip():
            raise DataError(f"{where} line {n}: the text after the tab is empty; give every label a text "
                            f"or remove the line")
        tokens.append(tokenize(text))
        labels.append(label.strip())
        texts.append(text)
    return tokens, labels, {"texts": texts}


def _tsv_write(split: Split) -> str:
    texts = _aligned(split, "texts", tokenize)
    return "".join(
        f"{label}\t{texts[i] if texts is not None else ' '.join(words)}\n"
        for i, (words, label) in enumerate(zip(split.tokens, split.labels))
    )


def _tsv_sniff(sample: list[str]) -> bool:
    rows = [ln.partition("\t") for ln in sample if ln.strip()]
    return (
        bool(rows)
        and all(sep and label.strip() and " " not in label.strip() and text.strip() for label, sep, text in rows)
        and any(" " in text.strip() for _, _, text in rows)
    )


register(Format(
    "tsv", "classification", (".tsv",), "one text per line: label<TAB>text",
    _tsv_read, _tsv_write, _tsv_sniff,
))
