"""Character vocabularies and the encoder that turns tokens into model inputs."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.data.chars import PAD_CHAR_ID, UNK_CHAR_ID, CharVocab, pad_chars
from pipeline.data.features import Encoded, Encoder, as_feeds, collate, ids_of
from pipeline.data.vocab import Vocabulary
from pipeline.runtime.batches import run_batched


def test_rare_and_unseen_characters_are_unknown_and_case_is_kept():
    cv = CharVocab.build([["Aa", "ab"], ["b", "é"]], min_freq=2)
    assert cv.chars[:2] == ["<pad>", "<unk>"]
    assert sorted(cv.chars[2:]) == ["a", "b"]  # "A" and "é" appear once
    assert cv.encode_word("A") == [UNK_CHAR_ID]
    assert cv.encode_word("ab") == [cv.chars.index("a"), cv.chars.index("b")]
    assert PAD_CHAR_ID not in cv.encode_word("zzz")


def test_long_words_keep_their_prefix_and_suffix():
    cv = CharVocab.build([["abcdefghij"]], min_freq=1, max_word_chars=6)
    decoded = "".join(cv.chars[i] for i in cv.encode_word("abcdefghij"))
    assert decoded == "abchij"
    assert len(cv.encode_word("x" * 500)) == 6


def test_char_vocab_round_trips_through_json():
    cv = CharVocab.build([["hello", "world"]], min_freq=1, max_word_chars=10)
    again = CharVocab.from_json(cv.to_json())
    assert again == cv and again.sha256() == cv.sha256()
    with pytest.raises(ValueError, match="padding and unknown"):
        CharVocab(["a", "b"])
    with pytest.raises(ValueError, match="max_word_chars"):
        CharVocab(["<pad>", "<unk>"], max_word_chars=1)


def test_pad_chars_right_pads_tokens_and_characters():
    out = pad_chars([[[5, 6], [7]], [[8, 9, 10]]])
    assert out.dtype == np.int64 and out.shape == (2, 2, 3)
    assert out[0].tolist() == [[5, 6, 0], [7, 0, 0]]
    assert out[1].tolist() == [[8, 9, 10], [0, 0, 0]]
    assert pad_chars([[]]).shape == (1, 1, 1)  # an empty sentence still gives one padding slot
    assert pad_chars([[[5]]], time=3).shape == (1, 3, 1)


def test_encoder_batches_words_and_characters_consistently():
    sents = [["The", "cat", "sat"], ["A", "dog"]]
    enc = Encoder(Vocabulary.build(sents), CharVocab.build(sents, min_freq=1))
    batch = [enc.encode(s) for s in sents + [[]]]
    assert isinstance(batch[0], Encoded) and len(batch[0]) == 3 and len(batch[2]) == 0
    x = enc.collate(batch)
    assert sorted(x) == ["chars", "ids"] and x["chars"].shape[:2] == x["ids"].shape
    # a token is padding in ids exactly when it has no characters
    assert np.array_equal(x["ids"] != 0, (x["chars"] != 0).any(-1))
    assert ids_of(x) is x["ids"] and as_feeds(x) == x


def test_word_only_encoder_gives_plain_id_arrays():
    enc = Encoder(Vocabulary.build([["a", "b"]]))
    assert enc.input_names == ["ids"]
    x = enc.collate([enc.encode(["a"]), enc.encode(["b", "zebra"])])
    assert x.tolist() == [[2, 0], [3, 1]]
    assert list(as_feeds(x)) == ["ids"] and ids_of(x) is x


def test_run_batched_with_character_inputs_returns_input_order():
    sents = [["a", "bb", "ccc"], ["dd"], ["e", "f"]]
    enc = Encoder(Vocabulary.build(sents), CharVocab.build(sents, min_freq=1))
    # a fake tagger: per token, its number of characters
    fn = lambda x: (x["chars"] != 0).sum(-1)[..., None].astype(np.float32)  # noqa: E731
    out = run_batched(fn, enc.encode_all(sents), task="tagging", batch_size=2, collate=collate)
    assert [o[:, 0].tolist() for o in out] == [[1, 2, 3], [2], [1, 1]]


@pytest.mark.parametrize("with_chars", [True, False])
def test_runtime_encoding_once_per_distinct_token_gives_the_encoder_inputs(with_chars):
    from pipeline.runtime.encoding import encode_tokens

    rng = np.random.default_rng(3)
    words = ["The", "the", "cat", "sat", "é", "Zorblaxian", "x" * 60, "", "."]
    vocab = Vocabulary.build([["the", "cat", "sat", "."]])
    enc = Encoder(vocab, CharVocab.build([["The", "cat", "sat", "."]], min_freq=1) if with_chars else None)
    sentences = [[words[i] for i in rng.integers(0, len(words), int(n))] for n in rng.integers(0, 12, 40)]
    sentences[0] = []
    rows = encode_tokens(enc, sentences)
    assert len(rows.word_ids) == len({t for s in sentences for t in s}) + 1  # one row per distinct token
    for start in range(0, len(sentences), 7):
        batch = list(range(start, min(start + 7, len(sentences))))
        want = enc.collate([enc.encode(sentences[i]) for i in batch])
        got = rows.collate([rows.sentences[i] for i in batch])
        if with_chars:
            assert got.keys() == want.keys()
            for key in want:
                np.testing.assert_array_equal(got[key], want[key])
        else:
            np.testing.assert_array_equal(got, want)
