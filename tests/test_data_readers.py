"""User files: the four formats, format detection, malformed input, and writing back."""

from __future__ import annotations

import dataclasses
import os

import pytest

from pipeline.data.corpus import Split
from pipeline.data.readers import FORMATS, detect_format, read_file, write_file
from pipeline.errors import ConfigError, DataError

CONLLU = """\
# sent_id = 1
# text = They aren't birds.
1\tThey\tthey\tPRON\tPRP\t_\t2\tnsubj\t_\t_
2-3\taren't\t_\t_\t_\t_\t_\t_\t_\t_
2\tare\tbe\tAUX\tVBP\t_\t0\troot\t_\t_
3\tn't\tnot\tPART\tRB\t_\t2\tadvmod\t_\t_
3.1\tx\t_\t_\t_\t_\t_\t_\t_\t_
4\tbirds\tbird\tNOUN\tNNS\t_\t2\tobj\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_

# sent_id = 2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_

"""

CONLL = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def write(tmp_path, name, text, *, bom=False, crlf=False):
    path = tmp_path / name
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


# ----------------------------------------------------------------------------- reading


def test_conllu_upos_and_xpos(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    s = read_file(path)
    assert s.task == "tagging" and s.source == str(path)
    assert s.tokens == [["They", "are", "n't", "birds", "."], ["Hi"]]
    assert s.labels == [["PRON", "AUX", "PART", "NOUN", "PUNCT"], ["INTJ"]]
    assert read_file(path, column="xpos").labels[0] == ["PRP", "VBP", "RB", "NNS", "."]
    assert s.meta["format"] == "conllu" and s.meta["column"] == "upos"


def test_conll_columns_skip_docstart(tmp_path):
    s = read_file(write(tmp_path, "a.conll", CONLL))
    assert s.tokens == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert s.labels == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]


def test_wordtag_splits_at_last_slash(tmp_path):
    s = read_file(write(tmp_path, "a.txt", "\tThe/DET 1/2/NUM and/or/CONJ ./.\n\nHi/X\n"))
    assert s.tokens == [["The", "1/2", "and/or", "."], ["Hi"]]
    assert s.labels == [["DET", "NUM", "CONJ", "."], ["X"]]


def test_tsv_tokenizes_text(tmp_path):
    s = read_file(write(tmp_path, "a.tsv", "pos\tA fine, funny film.\n\nneg\tIt isn't good\n"))
    assert s.task == "classification"
    assert s.tokens == [["A", "fine", ",", "funny", "film", "."], ["It", "is", "n't", "good"]]
    assert s.labels == ["pos", "neg"]


@pytest.mark.parametrize("name,text", [("a.conllu", CONLLU), ("a.conll", CONLL),
                                       ("a.txt", "The/DET cat/NOUN\n"), ("a.tsv", "pos\tgood film\n")])
def test_bom_and_crlf_read_like_plain_files(tmp_path, name, text):
    plain = read_file(write(tmp_path, name, text))
    (tmp_path / "odd").mkdir()
    odd = read_file(write(tmp_path / "odd", name, text, bom=True, crlf=True))
    assert (odd.tokens, odd.labels) == (plain.tokens, plain.labels)


# ----------------------------------------------------------------------------- detection


@pytest.mark.parametrize("name,text,fmt", [
    ("a.conllu", "anything", "conllu"),
    ("a.bio", "anything", "conll"),
    ("a.iob", "anything", "conll"),
    ("a.tsv", "anything", "tsv"),
    ("a.txt", CONLLU, "conllu"),
    ("a.txt", CONLL, "conll"),
    ("a.data", "EU\tB-ORG\nrejects\tO\n", "conll"),
    ("a.txt", "\tThe/at jury/nn ./.\n\n\tIt/pps is/bez ./.\n", "wordtag"),
    ("a.txt", "pos\tgood film\nneg\tbad\n", "tsv"),
    ("noext", "pos\tgood film\n", "tsv"),
    ("a.txt", "EU B-ORG\nrejects O\n\nPeter B-PER\n", "conll"),
])
def test_detect_format(tmp_path, name, text, fmt):
    assert detect_format(write(tmp_path, name, text)) == fmt


@pytest.mark.parametrize("text", ["Hello world\nhow are you\n", "Hello world\nGood morning\n"])
def test_unrecognised_content_asks_for_format(tmp_path, text):
    path = write(tmp_path, "a.txt", text)
    with pytest.raises(DataError, match="--format"):
        detect_format(path)


def test_two_matching_formats_are_named(tmp_path, monkeypatch):
    from pipeline.data import readers

    path = write(tmp_path, "a.txt", "pos\tgood film\n")
    always = dataclasses.replace(readers.FORMATS["conll"], sniff=lambda sample: True)
    monkeypatch.setitem(readers.FORMATS, "conll", always)
    with pytest.raises(DataError, match=r"conll or tsv|tsv or conll") as err:
        detect_format(path)
    assert "--format" in str(err.value)


# ----------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("name,text,fmt,pattern", [
    ("a.conllu", "1\tThey\tthey\tPRON\n", None, r"line 1: CoNLL-U needs 10 tab-separated columns, found 4"),
    ("a.conllu", "# c\n1\tA\ta\tDET\t_\t_\t_\t_\t_\t_\nx\tB\tb\tNOUN\t_\t_\t_\t_\t_\t_\n", None,
     r"line 3: ID 'x' is not a word index"),
    ("a.conllu", "1\tA\ta\t\t_\t_\t_\t_\t_\t_\n", None, r"line 1: the UPOS column is empty"),
    ("a.conll", "EU NNP B-ORG\nrejects O\n", None, r"line 2: 2 columns, but line 1 has 3"),
    ("a.conll", "EU B-ORG\nrejects\n", None, r"line 2: a CoNLL token line needs at least 2 columns"),
    ("a.txt", "The/DET cat/NOUN\nsat on/ADP\n", "wordtag", r"line 2: token 'sat' has no /tag"),
    ("a.txt", "The/DET /NOUN\n", "wordtag", r"line 1: token '/NOUN' has an empty word"),
    ("a.txt", "The/DET cat/\n", "wordtag", r"line 1: token 'cat/' has an empty tag"),
    ("a.tsv", "pos\tgood\nneg bad\n", None, r"line 2: no tab; write label<TAB>text"),
    ("a.tsv", "pos\tgood\n\t bad\n", None, r"line 2: the label before the tab is empty"),
    ("a.tsv", "pos\tgood\nneg\t  \n", None, r"line 2: the text after the tab is empty"),
    ("a.conllu", "# only a comment\n", None, r"no sentences found"),
])
def test_malformed_files_name_path_and_line(tmp_path, name, text, fmt, pattern):
    path = write(tmp_path, name, text)
    with pytest.raises(DataError, match=pattern) as err:
        read_file(path, fmt)
    assert str(err.value).startswith(str(path))


def test_missing_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_file(tmp_path / "nope.tsv")
    with pytest.raises(DataError, match="the file is empty"):
        read_file(write(tmp_path, "empty.tsv", " \n\n"))
    (tmp_path / "bad.tsv").write_bytes(b"pos\tok\nneg\tcaf\xe9\n")
    with pytest.raises(DataError, match=r"bad.tsv line 2: not valid UTF-8"):
        read_file(tmp_path / "bad.tsv")
    with pytest.raises(DataError, match="is a folder"):
        read_file(tmp_path)


def test_bad_arguments_are_config_errors(tmp_path):
    path = write(tmp_path, "a.tsv", "pos\tgood\n")
    with pytest.raises(ConfigError, match="conllu, conll, wordtag, tsv"):
        read_file(path, "json")
    with pytest.raises(ConfigError, match="upos, xpos"):
        read_file(path, column="feats")


# ----------------------------------------------------------------------------- writing


def _relabel(split: Split, fn) -> Split:
    labels = [[fn(t) for t in tags] for tags in split.labels] if split.task == "tagging" else [
        fn(x) for x in split.labels]
    return Split(split.task, split.tokens, labels, split.source, dict(split.meta))


def test_conllu_rewrite_replaces_only_the_chosen_column(tmp_path):
    s = read_file(write(tmp_path, "a.conllu", CONLLU), column="xpos")
    out = write_file(tmp_path / "out.conllu", _relabel(s, str.lower), "conllu")
    got = out.read_text(encoding="utf-8").splitlines()
    want = CONLLU.splitlines()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        gf, wf = g.split("\t"), w.split("\t")
        if w.startswith("#") or not w or "-" in wf[0] or "." in wf[0]:
            assert g == w
        else:
            assert gf[4] == wf[4].lower() and gf[:4] + gf[5:] == wf[:4] + wf[5:]
    assert read_file(out, column="xpos").labels == _relabel(s, str.lower).labels


def test_conll_rewrite_replaces_the_last_column(tmp_path):
    s = read_file(write(tmp_path, "a.conll", CONLL))
    out = write_file(tmp_path / "out.conll", _relabel(s, lambda t: "O"), "conll")
    text = out.read_text(encoding="utf-8")
    assert "EU NNP B-NP O\n" in text and "-DOCSTART- -X- -X- O\n" in text
    assert read_file(out).labels == [["O"] * 3, ["O"] * 2]


def test_tsv_rewrite_keeps_the_original_text(tmp_path):
    s = read_file(write(tmp_path, "a.tsv", "pos\tIt isn't  bad!\n"))
    out = write_file(tmp_path / "out.tsv", _relabel(s, lambda x: "neg"), "tsv")
    assert out.read_text(encoding="utf-8") == "neg\tIt isn't  bad!\n"


def test_subset_no_longer_matching_the_originals_is_written_fresh(tmp_path):
    s = read_file(write(tmp_path, "a.conllu", CONLLU))
    sub = s.subset([1])  # meta still holds both sentences' lines
    out = write_file(tmp_path / "sub.conllu", sub, "conllu")
    assert out.read_text(encoding="utf-8") == "1\tHi\t_\tINTJ\t_\t_\t_\t_\t_\t_\n\n"


@pytest.mark.parametrize("fmt", [n for n, f in FORMATS.items() if f.task == "tagging"])
def test_tagging_round_trip_through_every_tagging_format(tmp_path, fmt):
    s = Split("tagging", [["They", "are", "1/2"], ["Hi", "."]], [["PRON", "VERB", "NUM"], ["X", "."]])
    out = write_file(tmp_path / f"out.{fmt}", s, fmt)
    back = read_file(out, fmt)
    assert (back.tokens, back.labels) == (s.tokens, s.labels)


def test_write_is_atomic_and_checks_the_task(tmp_path):
    s = Split("classification", [["good"]], ["pos"])
    with pytest.raises(DataError, match=r"cannot write classification data as conllu .*; use tsv"):
        write_file(tmp_path / "x.conllu", s, "conllu")
    assert not (tmp_path / "x.conllu").exists()
    old_mask = os.umask(0o022)
    try:
        out = write_file(tmp_path / "deep" / "x.tsv", s, "tsv")
    finally:
        os.umask(old_mask)
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["x.tsv"]  # no temp files left behind
    assert out.stat().st_mode & 0o777 == 0o644, "predictions get the usual permissions, not mkstemp's 0600"
