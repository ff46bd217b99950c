"""``rnnx predict --input`` streams: order, gzip, folders and globs, --workers, bounded chunks,
and the input problems of issue 13 (line separators, encodings, binary files, folders,
--output = --input, cross-task formats, gold columns, the Python API), plus a fuzz test."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[1]
LINES4 = ["They are early birds .", "The dog\u2028barks at night .", "A cat\u0085sleeps .", "It rains ."]


@pytest.fixture(scope="module")
def tagger(trained_export):
    return trained_export("tagger")


@pytest.fixture(scope="module")
def classifier(trained_export):
    return trained_export("classifier")


def predict(capsys, *argv) -> tuple[int, str, str]:
    code = main(["predict", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("rnnx predict: error: ")


# ----------------------------------------------------------------------------- issue 13 item 5


@pytest.mark.slow
def test_unicode_line_separators_stay_inside_their_line(tagger, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(LINES4) + "\n", encoding="utf-8")
    code, out, err = predict(capsys, tagger, "--input", src)
    assert code == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 4  # before: 6 (str.splitlines splits at U+2028 and U+0085)
    assert [len(x.split()) for x in lines] == [5, 6, 4, 3]


@pytest.mark.slow
def test_latin1_input_is_a_clear_error_and_works_with_encoding(tagger, tmp_path, capsys):
    src = tmp_path / "latin.txt"
    src.write_bytes("Le caf\u00e9 est ferm\u00e9 .\nVoil\u00e0 .\n".encode("latin-1"))
    code, _, err = predict(capsys, tagger, "--input", src)
    one_line_error(code, err)
    assert "line 1" in err and "--encoding" in err
    code, out, err = predict(capsys, tagger, "--input", src, "--encoding", "latin-1")
    assert code == 0, err
    assert out.split("\n")[0].startswith("Le/") and "café/" in out


@pytest.mark.slow
def test_binary_file_is_a_one_line_error(tagger, tmp_path, capsys):
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 40)
    code, _, err = predict(capsys, tagger, "--input", src)
    one_line_error(code, err)
    gz = tmp_path / "fake.txt.gz"
    gz.write_bytes(b"not gzip at all\n")
    code, _, err = predict(capsys, tagger, "--input", gz)
    one_line_error(code, err)
    assert "gzip" in err


@pytest.mark.slow
def test_folder_and_glob_inputs_are_read_in_name_order(tagger, tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "b.txt").write_text("It rains .\nDogs bark .\n", encoding="utf-8")
    with gzip.open(folder / "a.txt.gz", "wt", encoding="utf-8") as f:
        f.write("They are early birds .\n")
    code, by_folder, err = predict(capsys, tagger, "--input", folder)
    assert code == 0, err  # before: IsADirectoryError traceback
    assert [ln.split()[0].split("/")[0] for ln in by_folder.splitlines()] == ["They", "It", "Dogs"]
    code, by_glob, _ = predict(capsys, tagger, "--input", f"{folder}/*")
    assert by_glob == by_folder
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = predict(capsys, tagger, "--input", empty)
    one_line_error(code, err)


@pytest.mark.slow
def test_output_equal_to_input_is_refused(tagger, brown_files, tmp_path, capsys):
    gold = tmp_path / "gold.txt"
    gold.write_bytes(brown_files["test"].read_bytes())
    before = gold.read_bytes()
    code, _, err = predict(capsys, tagger, "--input", gold, "--output", gold)
    one_line_error(code, err)
    assert "overwrite" in err
    code, _, err = predict(capsys, tagger, "--input", gold, "--output", tmp_path / "." / "gold.txt")
    one_line_error(code, err)
    assert gold.read_bytes() == before


@pytest.mark.slow
def test_tagger_on_labelled_tsv_keeps_the_label_and_tags_the_text(tagger, tmp_path, capsys):
    src = tmp_path / "reviews.tsv"
    src.write_text("pos\tA fine film .\nneg\tDull and long .\n", encoding="utf-8")
    code, out, err = predict(capsys, tagger, "--input", src)
    assert code == 0, err
    rows = [ln.split("\t") for ln in out.splitlines()]
    assert [r[0] for r in rows] == ["pos", "neg"]
    assert "[" not in out and "'" not in out  # before: Python lists of tags
    assert [t.rsplit("/", 1)[0] for t in rows[0][1].split()] == ["A", "fine", "film", "."]


@pytest.mark.slow
def test_classifier_on_conllu_classifies_each_sentence(classifier, tmp_path, capsys):
    src = tmp_path / "s.conllu"
    src.write_text("# sent_id = 1\n1\tA\t_\tDET\t_\t_\t_\t_\t_\t_\n2\tgem\t_\tNOUN\t_\t_\t_\t_\t_\t_\n\n"
                   "1\tDull\t_\tADJ\t_\t_\t_\t_\t_\t_\n2\t.\t_\tPUNCT\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    code, out, err = predict(capsys, classifier, "--input", src)
    assert code == 0, err  # before: ValueError traceback
    rows = [ln.split("\t") for ln in out.splitlines()]
    assert [r[1] for r in rows] == ["A gem", "Dull ."]
    assert all(r[0] in ("pos", "neg") for r in rows)


# ----------------------------------------------------------------------------- issue 13 item 8 (part)


@pytest.mark.slow
def test_conll_input_keeps_gold_and_adds_the_prediction(tagger, tmp_path, capsys):
    src = tmp_path / "g.conll"
    src.write_text("-DOCSTART- -X- O\n\nThey\tx\tPRON\nare\tx\tVERB\n\nIt\tx\tPRON\nrains\tx\tVERB\n.\tx\t.\n\n",
                   encoding="utf-8")
    code, out, err = predict(capsys, tagger, "--input", src)
    assert code == 0, err
    rows = [ln.split("\t") for ln in out.splitlines() if ln.strip() and not ln.startswith("-DOCSTART-")]
    assert [r[:3] for r in rows] == [["They", "x", "PRON"], ["are", "x", "VERB"], ["It", "x", "PRON"],
                                     ["rains", "x", "VERB"], [".", "x", "."]]
    assert all(len(r) == 4 for r in rows)  # before: the gold column was overwritten (3 columns)
    assert out.startswith("-DOCSTART- -X- O\n\n")


@pytest.mark.slow
def test_replacing_gold_tags_is_said_on_stderr(tagger, brown_files, tmp_path, capsys):
    code, out, err = predict(capsys, tagger, "--input", brown_files["test"], "--output", tmp_path / "p.txt")
    assert code == 0
    assert "note:" in err and "gold tags" in err and "not kept" in err
    raw = tmp_path / "raw.txt"
    raw.write_text("They are early birds .\n", encoding="utf-8")
    code, out, err = predict(capsys, tagger, "--input", raw)
    assert code == 0 and err == ""


# ----------------------------------------------------------------------------- issue 13 item 6


@pytest.mark.slow
def test_python_api_takes_a_string_as_one_text(tagger, classifier):
    from pipeline.errors import RnnxError
    from pipeline.runtime.session import load

    t = load(tagger)
    pairs = t.predict("Hi there")
    assert [w for w, _ in pairs] == ["Hi", "there"]  # before: one pair per character
    assert t.predict(["Hi there"]) == [pairs]
    c = load(classifier)
    label, probs = c.predict("a gorgeous , moving film .")
    assert label in probs and abs(sum(probs.values()) - 1) < 1e-4
    with pytest.raises(RnnxError, match="predict_tokens"):
        t.predict([["Hi", "there"]])


# ----------------------------------------------------------------------------- streaming


@pytest.mark.slow
def test_stream_equals_one_batch_and_workers_equal_one_process(tagger, brown_files, tmp_path, capsys, monkeypatch):
    from pipeline.data.readers import read_file
    from pipeline.runtime.session import load

    src = tmp_path / "raw.txt"
    split = read_file(brown_files["test"])
    src.write_text("".join(" ".join(t) + "\n" for t in split.tokens), encoding="utf-8")
    model = load(tagger, threads=1)
    tokens = [model.tokenize(line) for line in src.read_text(encoding="utf-8").split("\n")[:-1]]
    expected = "".join(" ".join(f"{w}/{p}" for w, p in zip(t, tags)) + "\n"
                       for t, tags in zip(tokens, model.predict_tokens(tokens)))
    import pipeline.runtime.corpus as corpus

    monkeypatch.setattr(corpus, "CHUNK_LINES", 7)  # many small chunks: order across chunk boundaries
    out_gz = tmp_path / "pred.txt.gz"
    code, _, err = predict(capsys, tagger, "--input", src, "--output", out_gz, "--threads", "1")
    assert code == 0, err
    assert gzip.open(out_gz, "rt", encoding="utf-8").read() == expected
    code, out, err = predict(capsys, tagger, "--input", src, "--workers", "2")
    assert code == 0, err
    assert out == expected
    code, out, err = predict(capsys, tagger, "--input", src, "--json", "--workers", "2")
    data = json.loads(out)
    assert [d["tokens"] for d in data] == tokens


def test_chunks_are_bounded_and_cut_at_sentence_ends(tmp_path):
    from pipeline.runtime.corpus import iter_chunks

    p = tmp_path / "x.conll"
    p.write_text("".join(f"w{i}\tT\nv{i}\tT\n\n" for i in range(100)), encoding="utf-8")
    chunks = list(iter_chunks(p, "conll", max_lines=10))
    assert all(len(c.lines) <= 12 for c in chunks) and len(chunks) >= 25
    assert all(c.lines[-1] == "" for c in chunks)
    assert [c.start for c in chunks[:3]] == [1, 13, 25]


def test_progress_is_off_when_piped_and_shows_tokens_per_second():
    import io

    from pipeline.runtime.predict import Progress, Stats

    piped = io.StringIO()
    Progress(piped).update(Stats(tokens=10), force=True)
    assert piped.getvalue() == ""  # StringIO is not a terminal
    shown = io.StringIO()
    p = Progress(shown, enabled=True)
    p.update(Stats(files=1, records=3, tokens=1200), force=True)
    p.close(Stats(files=1, records=3, tokens=1200))
    assert "tokens/s" in shown.getvalue() and "1,200 tokens" in shown.getvalue()


def test_reader_errors_name_the_line_of_the_whole_file(tmp_path):
    from pipeline.errors import DataError
    from pipeline.runtime.corpus import iter_chunks, parse_chunk

    p = tmp_path / "bad.txt"
    p.write_text("".join("a/DET b/NOUN\n" for _ in range(30)) + "oops\n", encoding="utf-8")
    chunks = list(iter_chunks(p, "wordtag", max_lines=8))
    with pytest.raises(DataError, match=r"bad.txt line 31:"):
        for c in chunks:
            parse_chunk(c, "upos", str.split)


@pytest.mark.slow
def test_predict_input_with_workers_imports_no_tensorflow(tagger, brown_files, tmp_path):
    block = ("import sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'dask', 'distributed'):\n"
             "            raise ImportError(f'{name} is blocked in this test')\n"
             "sys.meta_path.insert(0, Block())\n"
             "from pipeline.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "assert not [m for m in ('tensorflow', 'keras', 'dask') if m in sys.modules]\n"
             "sys.exit(code)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", block, "predict", str(tagger), "--input", str(brown_files["test"]),
                          "--workers", "2", "--output", str(tmp_path / "o.txt")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert len((tmp_path / "o.txt").read_text().splitlines()) == len(brown_files["test"].read_text().splitlines())


# ----------------------------------------------------------------------------- fuzz


_PIECES = st.sampled_from(["They", "are", "early", "birds", ".", "caf\u00e9", "\u2028", "\u0085", "\t", " ",
                           "/", "DET", "_", "1", "#", "-DOCSTART-", "\u00ff", "\ufeff", "\x00", "\u20ac", "\U0001f600"])
_EOLS = st.sampled_from(["\n", "\r\n", "\r", ""])
_ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"])


@st.composite
def _files(draw):
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    lines = draw(st.lists(st.lists(_PIECES, max_size=8).map(" ".join), max_size=12))
    eol = draw(_EOLS)
    text = "".join(line + (eol or draw(st.sampled_from(["\n", "\r"]))) for line in lines)
    return text.encode(draw(_ENCODINGS), errors="replace")


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=_files(), ext=st.sampled_from([".txt", ".conllu", ".conll", ".tsv", ".txt.gz", ""]),
       fmt=st.sampled_from([None, "lines", "wordtag", "conll"]), model=st.sampled_from(["tagger", "classifier"]))
def test_fuzz_predict_input_gives_a_result_or_a_one_line_error(trained_export, tmp_path, capsys, data, ext, fmt,
                                                               model):
    path = tmp_path / f"fuzz{ext}"
    path.write_bytes(gzip.compress(data) if ext.endswith(".gz") and data[:1] != b"x" else data)
    argv = [trained_export(model), "--input", path] + (["--format", fmt] if fmt else [])
    code, out, err = predict(capsys, *argv)
    if code == 0:
        assert "Traceback" not in err
    else:
        one_line_error(code, err)
