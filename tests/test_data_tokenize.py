"""The tokenizer shared by the MR loader, TSV files and raw-text prediction."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.data.tokenize import tokenize

CASES = [
    ("They are early birds .", ["They", "are", "early", "birds", "."]),
    ("They are early birds.", ["They", "are", "early", "birds", "."]),
    ("I don't think it's ''great''.", ["I", "do", "n't", "think", "it", "'s", "''", "great", "''", "."]),
    ("Can't WON'T", ["Ca", "n't", "WO", "N'T"]),
    ("We'll see; you'd've", ["We", "'ll", "see", ";", "you", "'d", "'ve"]),
    ("the players' union", ["the", "players", "'", "union"]),
    ("Mr. Smith paid $1,000.50 at 10:30 p.m. in the U.S.", ["Mr.", "Smith", "paid", "$", "1,000.50", "at", "10:30",
                                                         "p.m.", "in", "the", "U.S."]),
    ("a hard-fought, so-so co-writer/director", ["a", "hard-fought", ",", "so-so", "co-writer/director"]),
    ("wait... what--really?!", ["wait", "...", "what", "--", "really", "?", "!"]),
    ('"quoted" (aside)', ['"', "quoted", '"', "(", "aside", ")"]),
    ("o'clock rock'n'roll AT&T", ["o'clock", "rock'n'roll", "AT&T"]),
    ("there\u2019s caf\u00e9s", ["there", "\u2019s", "caf\u00e9s"]),
    ("", []),
    ("   \t\n ", []),
]


@pytest.mark.parametrize("text,tokens", CASES)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_contractions_can_stay_whole_for_brown_style_text():
    assert tokenize("It's the jury's view, isn't it?", contractions=False) == [
        "It's", "the", "jury's", "view", ",", "isn't", "it", "?"]


def test_brown_style_tokens_are_kept():
    text = "`` Only a relative handful of such reports was received '' , the jury said ."
    assert tokenize(text) == text.split()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Z9'’.,-/&$!?()\"`n't\t")), max_size=40))
def test_tokenizing_tokens_again_changes_nothing(text):
    tokens = tokenize(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    assert tokenize(" ".join(tokens)) == tokens
    assert "".join(tokens) == "".join(text.split())  # nothing lost, nothing added
