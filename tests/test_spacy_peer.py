"""benchmarks/spacy_peer.py: the brown-upos -> spaCy DocBin conversion, on a hand-made split.

Skipped where spaCy is not installed (it is a benchmark-only package, not an rnnx dependency);
nothing here trains spaCy.
"""

import importlib.util
import types
from pathlib import Path

import pytest

spacy = pytest.importorskip("spacy")

MODULE = Path(__file__).resolve().parent.parent / "benchmarks" / "spacy_peer.py"


def load_module():
    spec = importlib.util.spec_from_file_location("spacy_peer", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sp = load_module()

TOKENS = [["The", "jury", "said", "it", "did", "n't", "."],
          ["Fulton", "County", "'s", "3", "votes"],
          ["Ja"]]
TAGS = [["DET", "NOUN", "VERB", "PRON", "VERB", "ADV", "."],
        ["NOUN", "NOUN", "PRT", "NUM", "NOUN"],
        ["X"]]


def split(tokens, tags):
    return types.SimpleNamespace(tokens=tokens, labels=tags)


def test_docbin_round_trips_tokens_and_tags(tmp_path):
    paths = sp.write_corpora({"train": split(TOKENS, TAGS), "dev": split(TOKENS[:1], TAGS[:1])}, tmp_path)
    assert sorted(paths) == ["dev", "train"]
    vocab = spacy.blank("en").vocab  # a fresh vocab: the strings must travel in the file
    assert sp.from_docbin(paths["train"], vocab) == (TOKENS, TAGS)
    assert sp.from_docbin(paths["dev"], vocab) == (TOKENS[:1], TAGS[:1])


def test_gold_tags_are_in_tag_not_pos(tmp_path):
    vocab = spacy.blank("en").vocab
    doc = next(sp.to_docbin(vocab, TOKENS[:1], TAGS[:1]).get_docs(vocab))
    assert [t.tag_ for t in doc] == TAGS[0]
    assert [t.pos_ for t in doc] == [""] * len(TAGS[0])
    assert doc.text == "The jury said it did n't . "  # tokens kept as given, one space after each


def test_mismatched_tags_are_refused():
    vocab = spacy.blank("en").vocab
    with pytest.raises(ValueError, match="sentence 2 has 5 tokens but 4 tags"):
        sp.to_docbin(vocab, TOKENS[:2], [TAGS[0], TAGS[1][:4]])
    with pytest.raises(ValueError, match="one tag list per sentence"):
        sp.to_docbin(vocab, TOKENS, TAGS[:2])


def test_pre_tokenised_tagging_keeps_the_tokens():
    nlp = spacy.blank("en")  # no tagger: every tag is empty, but one per given token
    assert sp.tag_sentences(nlp, TOKENS, batch_size=2) == [[""] * len(t) for t in TOKENS]


def test_training_overrides_default_to_spacys_own():
    config = sp.default_config()
    assert sp.overrides(None, None) == {}
    summary = sp.config_summary(config)
    assert summary["pipeline"] == ["tok2vec", "tagger"]
    assert (summary["max_steps"], summary["patience"]) == (config["training"]["max_steps"],
                                                         config["training"]["patience"])
    merged = sp.config_summary(config.merge(sp._dotted(sp.overrides(500, None))))
    assert (merged["max_steps"], merged["patience"]) == (500, summary["patience"])
