"""Fuzzing every reader of :mod:`pipeline.data.readers`: random bytes, encodings and line endings.

Every outcome must be a :class:`~pipeline.data.corpus.Split` or an :class:`~pipeline.errors.RnnxError`
(at the command line: a one-line error and exit status 2), never another exception. Inputs are
generated three ways: raw random bytes; well-formed files of each format mutated (fields dropped,
tabs/slashes/spaces/control characters inserted); and either of those re-encoded (UTF-8 with and
without BOM, UTF-16, Latin-1, CP1252) with LF, CRLF, CR or mixed line ends.
"""

from __future__ import annotations

import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.data.corpus import Split
from pipeline.data.readers import FORMATS, detect_format, read_file, render
from pipeline.errors import RnnxError

SEEDS = {
    "conllu": "# sent_id = 1\n1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_\n"
              "2\tca\tcan\tAUX\tMD\t_\t0\troot\t_\t_\n3\tn't\tnot\tPART\tRB\t_\t2\tadvmod\t_\t_\n\n",
    "conll": "-DOCSTART- -X- O\n\nEU\tNNP\tB-ORG\nrejects\tVBZ\tO\n\nPeter\tNNP\tB-PER\n",
    "wordtag": "They/PRON are/VERB early/ADV ./.\nA/DET b/c/NOUN\n",
    "tsv": "pos\tA fine, moving film .\nneg\tdull and too long\n",
}
EXTENSIONS = {"conllu": ".conllu", "conll": ".conll", "wordtag": ".txt", "tsv": ".tsv"}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]
LINE_ENDS = ["\n", "\r\n", "\r"]
NASTY = ["\t", " ", "/", "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u00a0", "\ufeff", "_", "#", "-",
         "1-2", "1.1", "\\", "\ud7ff", "é", "😀", "\n\n", "-DOCSTART-", "\t\t\t\t\t\t\t\t\t"]

# RNNX_FUZZ_EXAMPLES=2000 for a longer run (150 per test by default, derandomized so CI is repeatable)
SETTINGS = settings(max_examples=int(os.environ.get("RNNX_FUZZ_EXAMPLES", "150")), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def outcome(path, fmt, column="upos"):
    """Read ``path``; a Split or an RnnxError, and a consistent Split at that."""
    try:
        split = read_file(path, fmt, column=column)
    except RnnxError as exc:
        assert str(exc).strip(), "an error must say what is wrong"
        return exc
    assert isinstance(split, Split) and len(split) > 0
    for toks in split.tokens:
        assert all(isinstance(t, str) and t for t in toks)
    if split.task == "tagging":
        assert all(len(t) == len(g) and all(isinstance(x, str) and x for x in g)
                   for t, g in zip(split.tokens, split.labels))
    else:
        assert all(isinstance(x, str) and x for x in split.labels)
    # whatever was read can be written back in its own format, and read again
    text = render(split, split.meta["format"])
    assert isinstance(text, str)
    return split


@st.composite
def mutated(draw, fmt):
    lines = SEEDS[fmt].split("\n")
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        action = draw(st.sampled_from(["insert", "delete", "drop_line", "dup_line", "truncate"]))
        if action == "insert":
            at = draw(st.integers(0, len(line)))
            piece = draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=4)))
            lines[i] = line[:at] + piece + line[at:]
        elif action == "delete" and line:
            at = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:at] + line[at + 1:]
        elif action == "drop_line" and len(lines) > 1:
            del lines[i]
        elif action == "dup_line":
            lines.insert(i, line)
        elif action == "truncate":
            lines[i] = line[: draw(st.integers(0, len(line)))]
    end = draw(st.sampled_from(LINE_ENDS + ["mixed"]))
    if end == "mixed":
        text = "".join(ln + draw(st.sampled_from(LINE_ENDS)) for ln in lines)
    else:
        text = end.join(lines)
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors=draw(st.sampled_from(["replace", "ignore", "surrogatepass"]))
                       if encoding.startswith("utf-") else "replace")


@pytest.mark.parametrize("fmt", list(FORMATS))
@SETTINGS
@given(data=st.data())
def test_mutated_files_give_a_split_or_a_clear_error(tmp_path, fmt, data):
    raw = data.draw(mutated(fmt))
    path = tmp_path / f"fuzz{EXTENSIONS[fmt]}"
    path.write_bytes(raw)
    outcome(path, fmt)  # the format given
    outcome(path, None)  # the format detected from the extension
    plain = tmp_path / "fuzz.data"  # no telling extension: detected from the content
    plain.write_bytes(raw)
    outcome(plain, None)
    if fmt == "conllu":
        outcome(path, fmt, column="xpos")


@pytest.mark.parametrize("fmt", [None, *FORMATS])
@SETTINGS
@given(raw=st.binary(max_size=400))
def test_random_bytes_give_a_split_or_a_clear_error(tmp_path, fmt, raw):
    path = tmp_path / "random.bin"
    path.write_bytes(raw)
    outcome(path, fmt)


@SETTINGS
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
       end=st.sampled_from(LINE_ENDS))
def test_random_text_is_detected_or_refused(tmp_path, text, end):
    path = tmp_path / "random.txt"
    path.write_text(text.replace("\n", end), encoding="utf-8", newline="")
    try:
        fmt = detect_format(path)
    except RnnxError:
        return
    assert fmt in FORMATS
    outcome(path, fmt)


def test_the_command_line_prints_one_line_for_bad_files(tmp_path, capsys):
    """The same inputs through `rnnx data show`: exit 0 or 2, and a one-line error, never a traceback."""
    import random

    from pipeline.cli import main

    rng = random.Random(13)
    for i in range(60):
        fmt = rng.choice(list(FORMATS))
        text = SEEDS[fmt]
        chars = list(text)
        for _ in range(rng.randint(1, 8)):
            chars.insert(rng.randint(0, len(chars)), rng.choice(NASTY))
        raw = "".join(chars).replace("\n", rng.choice(LINE_ENDS)).encode(rng.choice(ENCODINGS), "replace")
        if i % 5 == 0:
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        path = tmp_path / f"case{i}{EXTENSIONS[fmt] if i % 2 else '.data'}"
        path.write_bytes(raw)
        code = main(["data", "show", str(path)])
        captured = capsys.readouterr()
        assert code in (0, 2), (path, raw)
        if code == 2:
            lines = captured.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("rnnx data: error:"), captured.err


def test_a_file_that_cannot_be_read_is_a_clear_error(tmp_path, monkeypatch):
    from pathlib import Path

    path = tmp_path / "locked.tsv"
    path.write_text("pos\tfine film\n", encoding="utf-8")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(RnnxError, match="cannot be read"):
        read_file(path)
