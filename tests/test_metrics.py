"""Scoring: hand-computed token, label and CoNLL entity scores."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import RnnxError
from pipeline.scoring.metrics import (
    MetricsError,
    classification_report,
    confusion_matrix,
    detect_scheme,
    entity_scores,
    extract_chunks,
    format_report,
    precision_recall_f1,
    tagging_report,
)

approx = pytest.approx


def assert_plain_json(obj, where="report"):
    """Only exact int/float/str/bool/None/list/dict inside (no numpy scalars), finite floats."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str, f"{where}: key {k!r} is {type(k).__name__}"
            assert_plain_json(v, f"{where}[{k!r}]")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_plain_json(v, f"{where}[{i}]")
    else:
        assert type(obj) in (int, float, str, bool, type(None)), f"{where} is {type(obj).__name__}"
        if type(obj) is float:
            assert np.isfinite(obj), f"{where} is {obj}"


# ----------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    "counts, expected",
    [
        ((3, 1, 2), (0.75, 0.6, 2 * 3 / (2 * 3 + 1 + 2))),
        ((2, 0, 0), (1.0, 1.0, 1.0)),
        ((0, 0, 0), (0.0, 0.0, 0.0)),  # nothing gold, nothing predicted
        ((0, 3, 0), (0.0, 0.0, 0.0)),  # only false positives: recall denominator 0
        ((0, 0, 5), (0.0, 0.0, 0.0)),  # nothing predicted: precision denominator 0
        ((1, 1, 1), (0.5, 0.5, 0.5)),
    ],
)
def test_precision_recall_f1_hand_computed(counts, expected):
    got = precision_recall_f1(*counts)
    assert got == approx(expected)
    assert all(type(x) is float for x in got)


def test_precision_recall_f1_rejects_negative_counts():
    with pytest.raises(MetricsError, match="counts must be >= 0"):
        precision_recall_f1(1, -1, 0)


def test_precision_recall_f1_accepts_numpy_ints():
    assert precision_recall_f1(np.int64(1), np.int64(0), np.int64(1)) == approx((1.0, 0.5, 2 / 3))


def test_confusion_matrix_rows_are_gold_columns_predicted():
    m = confusion_matrix(["a", "a", "b", "c"], ["a", "b", "b", "a"], ["a", "b", "c"])
    assert m == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert all(type(x) is int for row in m for x in row)


def test_confusion_matrix_unknown_label_says_what_to_do():
    with pytest.raises(MetricsError, match=r"predicted label 'z' is not in labels; add it"):
        confusion_matrix(["a"], ["z"], ["a"])


def test_confusion_matrix_rejects_repeated_labels_and_length_mismatch():
    with pytest.raises(MetricsError, match="repeats"):
        confusion_matrix(["a"], ["a"], ["a", "a"])
    with pytest.raises(MetricsError, match="2 gold labels but 1 predictions"):
        confusion_matrix(["a", "a"], ["a"], ["a"])


# ----------------------------------------------------------------------------- tagging


GOLD = [["DET", "NOUN", "VERB"], ["NOUN", "VERB"]]
PRED = [["DET", "VERB", "VERB"], ["NOUN", "NOUN"]]


def test_tagging_report_hand_computed():
    r = tagging_report(GOLD, PRED)
    assert r["task"] == "tagging"
    assert (r["sentences"], r["tokens"], r["correct"]) == (2, 5, 3)
    assert r["accuracy"] == approx(0.6)
    assert r["per_label"]["DET"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "predicted": 1}
    assert r["per_label"]["NOUN"] == approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "predicted": 2})
    assert r["per_label"]["VERB"] == approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "predicted": 2})
    assert r["macro_f1"] == approx(2 / 3)
    assert r["macro_precision"] == approx(2 / 3) and r["macro_recall"] == approx(2 / 3)
    assert r["weighted_f1"] == approx((1 * 1 + 0.5 * 2 + 0.5 * 2) / 5)
    assert r["confusion"] == {"labels": ["DET", "NOUN", "VERB"], "matrix": [[1, 0, 0], [0, 1, 1], [0, 1, 1]]}
    assert "entities" not in r  # POS tags are not a chunk scheme
    assert "in_vocab" not in r


def test_tagging_report_in_and_out_of_vocabulary():
    in_vocab = [[True, False, True], [False, True]]
    r = tagging_report(GOLD, PRED, in_vocab=in_vocab)
    # in-vocab tokens: DET ok, VERB ok, VERB->NOUN wrong; OOV: NOUN->VERB wrong, NOUN ok
    assert r["in_vocab"] == approx({"tokens": 3, "share": 0.6, "correct": 2, "accuracy": 2 / 3})
    assert r["out_of_vocab"] == approx({"tokens": 2, "share": 0.4, "correct": 1, "accuracy": 0.5})


def test_tagging_report_without_oov_tokens_reports_zero_not_nan():
    r = tagging_report([["A"]], [["A"]], in_vocab=[[True]])
    assert r["out_of_vocab"] == {"tokens": 0, "share": 0.0, "correct": 0, "accuracy": 0.0}
    assert r["in_vocab"]["accuracy"] == 1.0


def test_tagging_report_perfect_prediction():
    r = tagging_report(GOLD, GOLD)
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0 and r["weighted_f1"] == 1.0
    assert all(s["f1"] == 1.0 for s in r["per_label"].values())


def test_tagging_report_all_wrong():
    r = tagging_report([["A", "B"]], [["B", "A"]])
    assert r["accuracy"] == 0.0 and r["correct"] == 0
    assert r["macro_f1"] == 0.0 and r["weighted_f1"] == 0.0
    assert r["confusion"]["matrix"] == [[0, 1], [1, 0]]


def test_label_only_in_predictions_counts_in_macro_average():
    r = tagging_report([["A", "A"]], [["A", "B"]])
    assert r["per_label"]["B"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 1}
    assert r["per_label"]["A"] == approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "predicted": 1})
    assert r["macro_f1"] == approx((2 / 3 + 0.0) / 2)
    assert r["weighted_f1"] == approx(2 / 3)  # weighted by gold support: B weighs 0


def test_mismatched_sentence_length_names_the_sentence():
    with pytest.raises(MetricsError, match=r"sentence 1: gold has 2 tags but pred has 3"):
        tagging_report(GOLD, [PRED[0], ["NOUN", "NOUN", "O"]])
    with pytest.raises(ValueError, match="gold has 2 sentences but pred has 1"):
        tagging_report(GOLD, PRED[:1])


def test_mismatched_in_vocab_names_the_sentence():
    with pytest.raises(MetricsError, match=r"sentence 0: in_vocab has 2 flags"):
        tagging_report(GOLD, PRED, in_vocab=[[True, True], [True, True]])


def test_metrics_error_is_both_value_error_and_rnnx_error():
    assert issubclass(MetricsError, ValueError) and issubclass(MetricsError, RnnxError)


def test_tagging_report_accepts_ids_with_label_names():
    names = ["DET", "NOUN", "VERB"]
    gold_ids = [np.array([0, 1, 2]), np.array([1, 2])]
    pred_ids = [np.array([0, 2, 2]), np.array([1, 1])]
    by_id = tagging_report(gold_ids, pred_ids, labels=names)
    by_name = tagging_report(GOLD, PRED)
    assert by_id == by_name


def test_ids_without_labels_or_out_of_range_are_explained():
    with pytest.raises(MetricsError, match="pass labels="):
        tagging_report([[0]], [[0]])
    with pytest.raises(MetricsError, match="label id 5 is outside 0..1"):
        classification_report([0, 5], [0, 1], labels=["a", "b"])


def test_empty_input_scores_zero():
    r = tagging_report([], [])
    assert (r["tokens"], r["accuracy"], r["macro_f1"], r["confusion"]["labels"]) == (0, 0.0, 0.0, [])


def test_reports_are_plain_json():
    r = tagging_report(
        [np.array(["B-PER", "I-PER", "O"])], [["B-PER", "O", "O"]], in_vocab=[np.array([True, False, True])]
    )
    assert_plain_json(r)
    assert json.loads(json.dumps(r, allow_nan=False)) == r
    c = classification_report(np.array(["a", "b"]), np.array(["a", "a"]))
    assert_plain_json(c)
    assert json.loads(json.dumps(c, allow_nan=False)) == c


# ----------------------------------------------------------------------------- classification


def test_classification_report_hand_computed():
    gold = ["pos", "pos", "neg", "neg", "neu"]
    pred = ["pos", "neg", "neg", "neg", "pos"]
    r = classification_report(gold, pred)
    assert r["task"] == "classification"
    assert (r["examples"], r["correct"], r["accuracy"]) == (5, 3, approx(0.6))
    # neg: tp 2, fp 1, fn 0; pos: tp 1, fp 1, fn 1; neu: tp 0, fn 1
    assert r["per_label"]["neg"] == approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2, "predicted": 3})
    assert r["per_label"]["pos"] == approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "predicted": 2})
    assert r["per_label"]["neu"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0}
    assert r["macro_f1"] == approx((0.8 + 0.5 + 0.0) / 3)
    assert r["weighted_f1"] == approx((0.8 * 2 + 0.5 * 2) / 5)
    assert r["confusion"] == {"labels": ["neg", "neu", "pos"], "matrix": [[2, 0, 0], [0, 0, 1], [1, 0, 1]]}


def test_classification_labels_fix_order_and_unseen_labels_are_appended():
    r = classification_report(["b", "a", "c"], ["b", "a", "a"], labels=["b", "a"])
    assert r["confusion"]["labels"] == ["b", "a", "c"]
    assert list(r["per_label"]) == ["b", "a", "c"]


def test_label_absent_from_split_is_listed_but_not_averaged():
    r = classification_report(["a", "a"], ["a", "a"], labels=["a", "b"])
    assert r["per_label"]["b"]["support"] == 0 and r["per_label"]["b"]["predicted"] == 0
    assert r["macro_f1"] == 1.0  # b never occurs: it does not drag the average to 0.5


def test_classification_report_accepts_ids():
    r = classification_report(np.array([1, 0, 1]), np.array([1, 1, 1]), labels=["neg", "pos"])
    assert r["confusion"] == {"labels": ["neg", "pos"], "matrix": [[0, 1], [0, 2]]}
    assert r["per_label"]["pos"]["precision"] == approx(2 / 3)


def test_classification_length_mismatch():
    with pytest.raises(MetricsError, match="3 gold labels but 2 predictions"):
        classification_report(["a", "b", "c"], ["a", "b"])


# ----------------------------------------------------------------------------- schemes and chunks


@pytest.mark.parametrize(
    "tags, scheme",
    [
        (["O", "B-PER", "I-PER"], "BIO"),
        (["I-PER", "O"], "BIO"),  # IOB1
        (["B-LOC", "E-LOC", "S-PER", "O"], "BIOES"),
        (["U-LOC", "B-PER", "L-PER"], "BILOU"),
        (["NOUN", "VERB", "."], None),
        (["O"], None),
        (["B-PER", "NOUN"], None),
        (["b-per", "O"], None),  # prefixes are upper case
        (["np-tl", "in"], None),  # raw Brown tags
    ],
)
def test_detect_scheme(tags, scheme):
    assert detect_scheme(tags) == scheme


@pytest.mark.parametrize(
    "tags, chunks",
    [
        # a chunk at the end of the sentence is closed there
        (["O", "B-LOC", "I-LOC"], [("LOC", 1, 3)]),
        # I- after O starts a chunk (IOB1, or a tagger's invalid IOB2)
        (["O", "I-PER", "I-PER", "O"], [("PER", 1, 3)]),
        (["I-PER"], [("PER", 0, 1)]),
        # I- after a different type starts a new chunk: a type change mid-chunk splits it
        (["B-ORG", "I-LOC", "I-ORG"], [("ORG", 0, 1), ("LOC", 1, 2), ("ORG", 2, 3)]),
        # B- always starts a chunk, even after the same type
        (["B-PER", "I-PER", "B-PER"], [("PER", 0, 2), ("PER", 2, 3)]),
        (["I-PER", "I-PER", "B-PER", "I-PER"], [("PER", 0, 2), ("PER", 2, 4)]),
        (["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
        # BIOES: E- ends a chunk, S- is a chunk of its own
        (["B-LOC", "I-LOC", "E-LOC", "O"], [("LOC", 0, 3)]),
        (["B-LOC", "E-LOC", "S-LOC", "E-LOC"], [("LOC", 0, 2), ("LOC", 2, 3), ("LOC", 3, 4)]),
        (["S-PER", "S-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
        (["S-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
        (["B-PER", "E-PER", "I-PER", "E-PER"], [("PER", 0, 2), ("PER", 2, 4)]),
        (["E-PER", "O"], [("PER", 0, 1)]),
        (["B-PER", "S-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),
        # BILOU reads L-/U- as E-/S-
        (["U-PER", "B-LOC", "L-LOC", "U-LOC"], [("PER", 0, 1), ("LOC", 1, 3), ("LOC", 3, 4)]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_extract_chunks_follows_conlleval(tags, chunks):
    assert extract_chunks(tags) == chunks


def test_extract_chunks_rejects_non_scheme_tags():
    with pytest.raises(MetricsError, match="'NOUN' is not 'O'"):
        extract_chunks(["B-PER", "NOUN"])


def test_entity_scores_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"], ["B-MISC", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"], ["B-MISC", "B-MISC"]]
    # gold chunks PER(0,2) LOC(3,4) ORG(5,6) MISC(0,1); predicted PER(0,2) LOC(3,5) MISC(0,1) MISC(1,2)
    s = entity_scores(gold, pred)
    assert s["scheme"] == "BIO"
    assert (s["support"], s["predicted"], s["correct"]) == (4, 4, 2)
    assert (s["precision"], s["recall"], s["f1"]) == approx((0.5, 0.5, 0.5))
    assert s["per_type"]["PER"] == approx({"precision": 1, "recall": 1, "f1": 1, "support": 1, "predicted": 1, "correct": 1})
    assert s["per_type"]["LOC"]["f1"] == 0.0  # wrong end: no partial credit
    assert s["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0, "correct": 0}
    assert s["per_type"]["MISC"] == approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1, "predicted": 2,
                                            "correct": 1})
    assert list(s["per_type"]) == ["LOC", "MISC", "ORG", "PER"]


def test_i_tag_starting_a_chunk_matches_the_b_tag_chunk():
    """conlleval reads I-PER I-PER as one chunk, identical to B-PER I-PER."""
    s = entity_scores([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]])
    assert (s["precision"], s["recall"], s["f1"]) == (1.0, 1.0, 1.0)
    r = tagging_report([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]])
    assert r["entities"]["f1"] == 1.0 and r["accuracy"] == approx(2 / 3)


def test_type_change_mid_chunk_gives_no_credit():
    s = entity_scores([["B-ORG", "I-ORG", "I-ORG"]], [["B-ORG", "I-LOC", "I-ORG"]])
    assert (s["support"], s["predicted"], s["correct"]) == (1, 3, 0)
    assert s["f1"] == 0.0
    assert s["per_type"]["ORG"]["predicted"] == 2 and s["per_type"]["LOC"]["support"] == 0


def test_wrong_boundary_gives_no_credit():
    s = entity_scores([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert (s["correct"], s["precision"], s["recall"]) == (0, 0.0, 0.0)


def test_chunks_never_cross_sentence_boundaries():
    gold = [["O", "B-PER"], ["I-PER", "O"]]
    s = entity_scores(gold, gold)
    assert (s["support"], s["correct"], s["f1"]) == (2, 2, 1.0)


def test_bioes_entity_scores():
    gold = [["S-PER", "O", "B-LOC", "I-LOC", "E-LOC"]]
    pred = [["S-PER", "O", "B-LOC", "E-LOC", "S-LOC"]]
    s = entity_scores(gold, pred)
    assert s["scheme"] == "BIOES"
    assert (s["support"], s["predicted"], s["correct"]) == (2, 3, 1)
    assert (s["precision"], s["recall"]) == approx((1 / 3, 1 / 2))


def test_entity_scores_need_a_scheme():
    with pytest.raises(MetricsError, match="BIO/BIOES"):
        entity_scores([["NOUN"]], [["NOUN"]])


def test_tagging_report_includes_entities_and_bio_ordered_labels():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"]]
    r = tagging_report(gold, pred)
    assert r["entities"]["f1"] == 0.5 and r["entities"]["scheme"] == "BIO"
    assert r["confusion"]["labels"] == ["B-LOC", "B-ORG", "B-PER", "I-PER", "O"]


# ----------------------------------------------------------------------------- format


def test_format_report_tagging_lines_and_tables():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"]]
    text = format_report(tagging_report(gold, pred, in_vocab=[[True, True, True, False]]))
    lines = text.splitlines()
    assert lines[0].startswith("accuracy") and "75.00%" in lines[0] and "3/4 tokens" in lines[0]
    assert any(line.startswith("out-of-vocab") and "0.00%" in line for line in lines)
    assert any(line.startswith("entities (BIO)") and "F1 50.00%" in line for line in lines)
    assert any(line.split()[:2] == ["B-PER", "100.00"] for line in lines)
    assert any(line.split()[:1] == ["entity"] for line in lines)


def test_format_report_truncates_long_tables():
    gold = [f"L{i}" for i in range(30)] + ["L0"] * 5
    text = format_report(classification_report(gold, gold), max_rows=10)
    assert "20 less frequent labels not shown" in text
    assert "L0 " in text


def test_format_report_rejects_other_dicts():
    with pytest.raises(MetricsError, match="needs a report"):
        format_report({"loss": 1.0})


# ----------------------------------------------------------------------------- properties

TAGS = st.sampled_from(["A", "B", "C", "D"])


@st.composite
def tagged_pairs(draw):
    lengths = draw(st.lists(st.integers(0, 8), min_size=0, max_size=6))
    gold = [draw(st.lists(TAGS, min_size=n, max_size=n)) for n in lengths]
    pred = [draw(st.lists(TAGS, min_size=n, max_size=n)) for n in lengths]
    return gold, pred


@settings(max_examples=60, deadline=None)
@given(tagged_pairs())
def test_accuracy_is_mean_of_matches_and_counts_add_up(pair):
    gold, pred = pair
    r = tagging_report(gold, pred)
    matches = [g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)]
    n = len(matches)
    assert r["tokens"] == n
    assert r["accuracy"] == approx(float(np.mean(matches)) if n else 0.0)
    assert sum(s["support"] for s in r["per_label"].values()) == n
    assert sum(s["predicted"] for s in r["per_label"].values()) == n
    k = len(r["confusion"]["labels"])
    matrix = np.array(r["confusion"]["matrix"], dtype=int).reshape(k, k)
    assert matrix.sum() == n and np.trace(matrix) == r["correct"]
    assert [int(x) for x in matrix.sum(axis=1)] == [s["support"] for s in r["per_label"].values()]
    assert 0.0 <= r["macro_f1"] <= 1.0 and 0.0 <= r["weighted_f1"] <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(TAGS, min_size=1, max_size=20))
def test_self_comparison_is_perfect(labels):
    r = classification_report(labels, labels)
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0 and r["weighted_f1"] == 1.0


@st.composite
def spans(draw):
    """Non-overlapping typed spans in a sentence of ``length`` tokens."""
    length = draw(st.integers(0, 12))
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=8)))
    out = []
    for start, end in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            out.append((draw(st.sampled_from(["PER", "LOC"])), start, end))
    return length, out


def encode(length, chunks, scheme):
    tags = ["O"] * length
    for typ, start, end in chunks:
        if scheme == "BIOES" and end - start == 1:
            tags[start] = f"S-{typ}"
            continue
        tags[start] = f"B-{typ}"
        for i in range(start + 1, end):
            tags[i] = f"I-{typ}"
        if scheme == "BIOES":
            tags[end - 1] = f"E-{typ}"
    return tags


@settings(max_examples=80, deadline=None)
@given(spans(), st.sampled_from(["BIO", "BIOES"]))
def test_extract_chunks_inverts_encoding(sentence, scheme):
    length, chunks = sentence
    tags = encode(length, chunks, scheme)
    assert extract_chunks(tags) == chunks
    if chunks:
        s = entity_scores([tags], [tags])
        assert (s["f1"], s["correct"]) == (1.0, len(chunks))


def test_metrics_module_imports_neither_tensorflow_nor_keras():
    code = ("import sys, pipeline.scoring.metrics; "
            "bad = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- conlleval oracle


def _conll_end(prev, tag, prev_type, typ):
    """conlleval's endOfChunk, with the E-/S- rules of its BIOES extension."""
    return (prev in ("E", "S")
            or (prev in ("B", "I") and tag in ("B", "S", "O"))
            or (prev != "O" and prev_type != typ))


def _conll_start(prev, tag, prev_type, typ):
    """conlleval's startOfChunk, with the E-/S- rules of its BIOES extension."""
    return (tag in ("B", "S")
            or (prev in ("E", "S", "O") and tag in ("E", "I"))
            or (tag != "O" and prev_type != typ))


def conlleval_counts(gold, pred):
    """Token-by-token counting as conlleval does it (an independent oracle for entity_scores)."""
    def split(t):
        return ("O", "") if t == "O" else (t[0], t[2:])

    stream = []
    for g_sent, p_sent in zip(gold, pred):
        stream.extend(zip(g_sent, p_sent))
        stream.append(("O", "O"))  # a blank line closes every open chunk
    correct, found_gold, found_pred = {}, {}, {}
    in_correct = False
    last_g, last_gt, last_p, last_pt = "O", "", "O", ""
    for g_tag, p_tag in stream:
        g, gt = split(g_tag)
        p, pt = split(p_tag)
        end_g, end_p = _conll_end(last_g, g, last_gt, gt), _conll_end(last_p, p, last_pt, pt)
        start_g, start_p = _conll_start(last_g, g, last_gt, gt), _conll_start(last_p, p, last_pt, pt)
        if in_correct:
            if end_g and end_p and last_gt == last_pt:
                in_correct = False
                correct[last_gt] = correct.get(last_gt, 0) + 1
            elif end_g != end_p or gt != pt:
                in_correct = False
        if start_g and start_p and gt == pt:
            in_correct = True
        if start_g:
            found_gold[gt] = found_gold.get(gt, 0) + 1
        if start_p:
            found_pred[pt] = found_pred.get(pt, 0) + 1
        last_g, last_gt, last_p, last_pt = g, gt, p, pt
    return correct, found_gold, found_pred


ANY_TAG = st.sampled_from(["O", "O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "E-Y", "S-Y"])


@st.composite
def messy_pairs(draw):
    """Any tag sequences, including ones no valid BIO/BIOES encoder would write."""
    lengths = draw(st.lists(st.integers(1, 10), min_size=1, max_size=5))
    gold = [draw(st.lists(ANY_TAG, min_size=n, max_size=n)) for n in lengths]
    pred = [draw(st.lists(ANY_TAG, min_size=n, max_size=n)) for n in lengths]
    return gold, pred


@settings(max_examples=200, deadline=None)
@given(messy_pairs())
def test_entity_scores_match_conlleval_token_by_token_counting(pair):
    gold, pred = pair
    if detect_scheme(t for s in gold + pred for t in s) is None:
        return  # only O tags drawn
    correct, found_gold, found_pred = conlleval_counts(gold, pred)
    s = entity_scores(gold, pred)
    assert (s["correct"], s["support"], s["predicted"]) == (
        sum(correct.values()), sum(found_gold.values()), sum(found_pred.values()))
    for typ, row in s["per_type"].items():
        assert (row["correct"], row["support"], row["predicted"]) == (
            correct.get(typ, 0), found_gold.get(typ, 0), found_pred.get(typ, 0))
