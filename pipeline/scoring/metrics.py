"""Scores for taggers and classifiers, computed from plain label lists.

Everything here takes Python lists (or numpy arrays) of label strings -- or of
label ids together with the list of label names -- and returns plain ``dict``s
of ``int``/``float``/``str``/``list`` that ``json.dumps`` writes as they are.
Only numpy is imported, so predictions from Keras and from ONNX Runtime are
scored by the same code.

>>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
>>> pred = [["B-PER", "I-PER", "O", "B-ORG"]]
>>> r = tagging_report(gold, pred)
>>> r["accuracy"], r["entities"]["scheme"], r["entities"]["f1"]
(0.75, 'BIO', 0.5)
>>> print(format_report(r))  # doctest: +NORMALIZE_WHITESPACE
accuracy          75.00%  (3/4 tokens, 1 sentences)
macro-F1          60.00%  weighted-F1 75.00%
entities (BIO)    precision 50.00%  recall 50.00%  F1 50.00%  (gold 2, predicted 2, correct 1)
<BLANKLINE>
label    precision  recall      f1  support  predicted
B-LOC         0.00    0.00    0.00        1          0
B-ORG         0.00    0.00    0.00        0          1
B-PER       100.00  100.00  100.00        1          1
I-PER       100.00  100.00  100.00        1          1
O           100.00  100.00  100.00        1          1
<BLANKLINE>
entity   precision  recall      f1  support  predicted
LOC           0.00    0.00    0.00        1          0
ORG           0.00    0.00    0.00        0          1
PER         100.00  100.00  100.00        1          1

Entity scores follow the CoNLL-2000 ``conlleval`` script: a chunk starts at a
``B-``/``S-`` tag, at an ``I-``/``E-`` tag that follows ``O``, a chunk of another
type or an ``E-``/``S-`` tag; it ends before ``O``, a ``B-``/``S-`` tag or a tag of
another type, and right after ``E-``/``S-``. A predicted chunk counts as correct
only when its start, end and type all equal a gold chunk's. ``L-``/``U-``
(BILOU) are read as ``E-``/``S-``. Scores are fractions in [0, 1], not percent.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from pipeline.errors import RnnxError

__all__ = [
    "MetricsError",
    "precision_recall_f1",
    "confusion_matrix",
    "detect_scheme",
    "extract_chunks",
    "entity_scores",
    "tagging_report",
    "classification_report",
    "format_report",
]

#: Chunk prefixes read as BIOES: ``L-``/``U-`` (BILOU) mean ``E-``/``S-``.
_PREFIXES = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S"}
_PREFIX_ORDER = {"B": 0, "I": 1, "E": 2, "L": 2, "S": 3, "U": 3}


class MetricsError(RnnxError, ValueError):
    """Gold and predicted labels cannot be compared (lengths differ, unknown label...)."""


# ----------------------------------------------------------------------------- helpers


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts; 0.0 (never NaN) when a denominator is 0.

    >>> precision_recall_f1(3, 1, 2)
    (0.75, 0.6, 0.6666666666666666)
    >>> precision_recall_f1(0, 0, 0)
    (0.0, 0.0, 0.0)
    """
    if min(tp, fp, fn) < 0:
        raise MetricsError(f"counts must be >= 0, got tp={tp} fp={fp} fn={fn}")
    tp, fp, fn = int(tp), int(fp), int(fn)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return float(precision), float(recall), float(f1)


def confusion_matrix(gold: Sequence, pred: Sequence, labels: Sequence[str]) -> list[list[int]]:
    """Counts ``matrix[i][j]`` of items with gold ``labels[i]`` predicted as ``labels[j]``.

    Rows are gold labels, columns predictions. Every label in ``gold`` and
    ``pred`` must be in ``labels``.

    >>> confusion_matrix(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    [[1, 1], [0, 1]]
    """
    gold, pred, labels = list(gold), list(pred), [str(x) for x in labels]
    if len(gold) != len(pred):
        raise MetricsError(f"{len(gold)} gold labels but {len(pred)} predictions; pass one prediction per item")
    index = {name: i for i, name in enumerate(labels)}
    if len(index) != len(labels):
        dupes = sorted(name for name, n in Counter(labels).items() if n > 1)
        raise MetricsError(f"labels list repeats {dupes}; pass each label once")
    n = len(labels)
    g = _indices(gold, index, "gold")
    p = _indices(pred, index, "predicted")
    counts = np.bincount(g * n + p, minlength=n * n).reshape(n, n) if n else np.zeros((0, 0), int)
    return counts.astype(int).tolist()


def _indices(items: list, index: dict[str, int], what: str) -> np.ndarray:
    try:
        return np.fromiter((index[str(x)] for x in items), dtype=np.int64, count=len(items))
    except KeyError as exc:
        raise MetricsError(
            f"{what} label {exc.args[0]!r} is not in labels; add it to the labels list (or pass labels=None)"
        ) from None


# ----------------------------------------------------------------------------- chunks


def _split_tag(tag: str) -> tuple[str, str | None]:
    """``"B-PER" -> ("B", "PER")``; ``"O" -> ("O", None)``; prefixes normalised to BIOES."""
    if tag == "O":
        return "O", None
    if len(tag) >= 2 and tag[1] == "-" and tag[0] in _PREFIXES:
        return _PREFIXES[tag[0]], tag[2:]
    raise MetricsError(f"tag {tag!r} is not 'O' and does not start with B-, I-, E-, S-, L- or U-")


def detect_scheme(tags: Iterable[str]) -> str | None:
    """``"BIO"``, ``"BIOES"`` or ``"BILOU"`` when every tag is ``O`` or prefixed, else ``None``.

    IOB1 and IOB2 both report ``"BIO"``; a set of only ``O`` tags has no scheme.

    >>> detect_scheme(["O", "B-PER", "I-PER"]), detect_scheme(["S-LOC", "O"]), detect_scheme(["NOUN", "O"])
    ('BIO', 'BIOES', None)
    """
    prefixes = set()
    for tag in set(map(str, tags)):
        if tag == "O":
            continue
        if len(tag) < 2 or tag[1] != "-" or tag[0] not in _PREFIXES:
            return None
        prefixes.add(tag[0])
    if not prefixes:
        return None
    if prefixes & {"L", "U"}:
        return "BILOU"
    if prefixes & {"E", "S"}:
        return "BIOES"
    return "BIO"


def extract_chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The chunks of one sentence as ``(type, start, end)``, ``end`` exclusive, read as conlleval does.

    >>> extract_chunks(["B-PER", "I-PER", "O", "I-LOC", "I-ORG"])
    [('PER', 0, 2), ('LOC', 3, 4), ('ORG', 4, 5)]
    >>> extract_chunks(["B-LOC", "E-LOC", "S-LOC", "E-LOC"])
    [('LOC', 0, 2), ('LOC', 2, 3), ('LOC', 3, 4)]
    """
    chunks = []
    start, kind = None, None
    prev_prefix, prev_type = "O", None
    for i, tag in enumerate(tags):
        prefix, typ = _split_tag(str(tag))
        boundary = prefix in ("B", "S") or prev_prefix in ("E", "S") or typ != prev_type
        if start is not None and (prefix == "O" or boundary):
            chunks.append((kind, start, i))
            start = None
        if prefix != "O" and (prev_prefix == "O" or boundary):
            start, kind = i, typ
        prev_prefix, prev_type = prefix, typ
    if start is not None:
        chunks.append((kind, start, len(tags)))
    return chunks


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """CoNLL (``conlleval``) chunk precision/recall/F1, overall and per entity type.

    Returns ``{"scheme", "precision", "recall", "f1", "support", "predicted",
    "correct", "per_type": {type: {"precision", "recall", "f1", "support",
    "predicted", "correct"}}}`` where ``support`` counts gold chunks.

    >>> s = entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    >>> s["precision"], s["recall"], s["per_type"]["PER"]["predicted"]
    (0.0, 0.0, 1)
    """
    gold, pred = _check_lengths(gold, pred, "pred")
    scheme = detect_scheme(t for sent in (*gold, *pred) for t in sent)
    if scheme is None:
        raise MetricsError("entity scores need BIO/BIOES tags (each tag 'O' or B-/I-/E-/S-/L-/U- TYPE)")
    n_gold, n_pred, n_correct = Counter(), Counter(), Counter()
    for g_tags, p_tags in zip(gold, pred):
        g_chunks, p_chunks = extract_chunks(g_tags), extract_chunks(p_tags)
        n_gold.update(c[0] for c in g_chunks)
        n_pred.update(c[0] for c in p_chunks)
        n_correct.update(c[0] for c in set(g_chunks) & set(p_chunks))
    types = sorted(set(n_gold) | set(n_pred))
    per_type = {t: _prf_entry(n_correct[t], n_pred[t], n_gold[t]) for t in types}
    overall = _prf_entry(sum(n_correct.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {"scheme": scheme, **overall, "per_type": per_type}


def _prf_entry(correct: int, predicted: int, support: int) -> dict:
    p, r, f = precision_recall_f1(correct, predicted - correct, support - correct)
    return {"precision": p, "recall": r, "f1": f, "support": int(support), "predicted": int(predicted),
            "correct": int(correct)}


# ----------------------------------------------------------------------------- reports


def tagging_report(
    gold: Sequence[Sequence],
    pred: Sequence[Sequence],
    *,
    in_vocab: Sequence[Sequence[bool]] | None = None,
    labels: Sequence[str] | None = None,
) -> dict:
    """Score a tagger: token accuracy, per-tag P/R/F1, confusion matrix, entity scores.

    ``gold`` and ``pred`` hold one unpadded tag sequence per sentence (strings,
    or label ids when ``labels`` names them). ``in_vocab[s][t]`` says whether
    token ``t`` of sentence ``s`` is in the training vocabulary; with it the
    report splits accuracy into in- and out-of-vocabulary tokens. ``labels``
    fixes the order of the per-label table and confusion matrix; labels seen
    in the data but missing from it are appended.

    Keys: ``task`` ("tagging"), ``sentences``, ``tokens``, ``correct``,
    ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
    ``weighted_f1``, ``per_label``, ``confusion`` ``{"labels", "matrix"}``;
    ``in_vocab`` and ``out_of_vocab`` ``{"tokens", "share", "correct",
    "accuracy"}`` when ``in_vocab`` is given; ``entities`` (see
    :func:`entity_scores`) when the tags form a BIO/BIOES scheme.

    >>> r = tagging_report([["DET", "NOUN"], ["VERB"]], [["DET", "VERB"], ["VERB"]],
    ...                    in_vocab=[[True, False], [True]])
    >>> r["accuracy"], r["out_of_vocab"]["accuracy"], r["per_label"]["VERB"]["precision"]
    (0.6666666666666666, 0.0, 0.5)
    """
    gold = _names_2d(gold, labels, "gold")
    pred = _names_2d(pred, labels, "pred")
    gold, pred = _check_lengths(gold, pred, "pred")
    flat_gold = [t for sent in gold for t in sent]
    flat_pred = [t for sent in pred for t in sent]
    order = _label_order(flat_gold, flat_pred, labels)
    report = {"task": "tagging", "sentences": len(gold)}
    report.update(_label_scores(flat_gold, flat_pred, order, count_key="tokens"))
    if in_vocab is not None:
        report.update(_vocab_split(gold, flat_gold, flat_pred, in_vocab))
    if detect_scheme(order) is not None:
        report["entities"] = entity_scores(gold, pred)
    report["per_label"] = report.pop("per_label")  # keep the big tables last
    report["confusion"] = report.pop("confusion")
    return report


def classification_report(gold: Sequence, pred: Sequence, labels: Sequence[str] | None = None) -> dict:
    """Score a classifier: accuracy, macro-F1, per-class P/R/F1, confusion matrix.

    ``gold`` and ``pred`` hold one label per text (strings, or label ids when
    ``labels`` names them). ``labels`` fixes the order of the table and the
    matrix; labels seen in the data but missing from it are appended.

    Keys: ``task`` ("classification"), ``examples``, ``correct``, ``accuracy``,
    ``macro_precision``, ``macro_recall``, ``macro_f1``, ``weighted_f1``,
    ``per_label`` ``{label: {"precision", "recall", "f1", "support",
    "predicted"}}``, ``confusion`` ``{"labels", "matrix"}`` (rows gold).

    >>> r = classification_report(["pos", "neg", "neg"], ["pos", "pos", "neg"])
    >>> r["accuracy"], r["macro_f1"], r["confusion"]
    (0.6666666666666666, 0.6666666666666666, {'labels': ['neg', 'pos'], 'matrix': [[1, 1], [0, 1]]})
    """
    gold = _names_1d(gold, labels, "gold")
    pred = _names_1d(pred, labels, "pred")
    if len(gold) != len(pred):
        raise MetricsError(f"{len(gold)} gold labels but {len(pred)} predictions; pass one prediction per text")
    order = _label_order(gold, pred, labels)
    report = {"task": "classification"}
    report.update(_label_scores(gold, pred, order, count_key="examples"))
    return report


def _label_scores(gold: list[str], pred: list[str], order: list[str], *, count_key: str) -> dict:
    """Accuracy, per-label and averaged scores from flat label lists."""
    matrix = np.asarray(confusion_matrix(gold, pred, order), dtype=np.int64).reshape(len(order), len(order))
    tp = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    per_label = {}
    for i, name in enumerate(order):
        p, r, f = precision_recall_f1(tp[i], predicted[i] - tp[i], support[i] - tp[i])
        per_label[name] = {"precision": p, "recall": r, "f1": f, "support": int(support[i]),
                           "predicted": int(predicted[i])}
    # Averages run over labels that occur in gold or predictions, so a label
    # listed in ``labels`` but absent from this split does not count as F1 = 0.
    seen = [name for name, s in per_label.items() if s["support"] or s["predicted"]]
    total = len(gold)
    correct = int(tp.sum())

    def mean(key):
        return float(np.mean([per_label[n][key] for n in seen])) if seen else 0.0

    weighted = sum(per_label[n]["f1"] * per_label[n]["support"] for n in seen) / total if total else 0.0
    return {
        count_key: total,
        "correct": correct,
        "accuracy": correct / total if total else 0.0,
        "macro_precision": mean("precision"),
        "macro_recall": mean("recall"),
        "macro_f1": mean("f1"),
        "weighted_f1": float(weighted),
        "per_label": per_label,
        "confusion": {"labels": list(order), "matrix": matrix.astype(int).tolist()},
    }


def _vocab_split(gold: list[list[str]], flat_gold: list[str], flat_pred: list[str], in_vocab) -> dict:
    """Accuracy on in- and out-of-vocabulary tokens."""
    if len(in_vocab) != len(gold):
        raise MetricsError(f"in_vocab has {len(in_vocab)} sentences but gold has {len(gold)}; pass one flag list per sentence")
    for i, (flags, tags) in enumerate(zip(in_vocab, gold)):
        if len(flags) != len(tags):
            raise MetricsError(
                f"sentence {i}: in_vocab has {len(flags)} flags but gold has {len(tags)} tags; "
                "pass one flag per token of the unpadded sentence"
            )
    known = np.fromiter((bool(f) for flags in in_vocab for f in flags), dtype=bool, count=len(flat_gold))
    match = np.fromiter((g == p for g, p in zip(flat_gold, flat_pred)), dtype=bool, count=len(flat_gold))
    total = len(flat_gold)
    out = {}
    for key, mask in (("in_vocab", known), ("out_of_vocab", ~known)):
        n = int(mask.sum())
        ok = int(match[mask].sum())
        out[key] = {"tokens": n, "share": n / total if total else 0.0, "correct": ok,
                    "accuracy": ok / n if n else 0.0}
    return out


def _check_lengths(gold, pred, what: str) -> tuple[list, list]:
    gold, pred = list(gold), list(pred)
    if len(gold) != len(pred):
        raise MetricsError(f"gold has {len(gold)} sentences but {what} has {len(pred)}; pass one tag list per sentence")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise MetricsError(
                f"sentence {i}: gold has {len(g)} tags but {what} has {len(p)}; "
                "pass unpadded sequences with one predicted tag per token"
            )
    return gold, pred


def _is_id(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _names_1d(items, labels, what: str) -> list[str]:
    items = list(items)
    if not any(_is_id(x) for x in items):
        return [str(x) for x in items]
    if labels is None:
        raise MetricsError(f"{what} holds label ids; pass labels=[names in id order] to name them")
    names = [str(x) for x in labels]
    out = []
    for x in items:
        if _is_id(x):
            if not 0 <= int(x) < len(names):
                raise MetricsError(f"{what} label id {int(x)} is outside 0..{len(names) - 1} of the {len(names)} labels")
            out.append(names[int(x)])
        else:
            out.append(str(x))
    return out


def _names_2d(seqs, labels, what: str) -> list[list[str]]:
    return [_names_1d(seq, labels, what) for seq in seqs]


def _label_order(gold: list[str], pred: list[str], labels) -> list[str]:
    """``labels`` first (in their order), then any other label seen, sorted."""
    given = [str(x) for x in labels] if labels is not None else []
    if len(set(given)) != len(given):
        dupes = sorted(name for name, n in Counter(given).items() if n > 1)
        raise MetricsError(f"labels list repeats {dupes}; pass each label once")
    extra = (set(gold) | set(pred)) - set(given)
    if given or detect_scheme(extra) is None:
        return given + sorted(extra)
    # BIO tags read best grouped by entity type: B-LOC I-LOC B-PER I-PER ... O
    return sorted(extra, key=lambda t: (t == "O", t[2:], _PREFIX_ORDER.get(t[0], 9)))


# ----------------------------------------------------------------------------- text


def format_report(report: dict, *, max_rows: int = 60) -> str:
    """A compact table for people: accuracy lines, the per-label table, entity scores.

    Scores are printed in percent. With more than ``max_rows`` labels only the
    ``max_rows`` most frequent are listed.

    >>> print(format_report(classification_report(["a", "b"], ["a", "a"])))  # doctest: +NORMALIZE_WHITESPACE
    accuracy          50.00%  (1/2 examples)
    macro-F1          33.33%  weighted-F1 33.33%
    <BLANKLINE>
    label  precision  recall      f1  support  predicted
    a          50.00  100.00   66.67        1          2
    b           0.00    0.00    0.00        1          0
    """
    for key in ("accuracy", "per_label"):
        if key not in report:
            raise MetricsError(f"format_report needs a report from tagging_report/classification_report (no {key!r})")
    lines = []
    if report.get("task") == "tagging" or "tokens" in report:
        lines.append(f"{'accuracy':<16} {_pct(report['accuracy'])}  "
                     f"({report['correct']}/{report['tokens']} tokens, {report['sentences']} sentences)")
        for key, name in (("in_vocab", "in-vocabulary"), ("out_of_vocab", "out-of-vocab")):
            if key in report:
                part = report[key]
                lines.append(f"{name:<16} {_pct(part['accuracy'])}  "
                             f"({part['tokens']} tokens, {_pct(part['share']).strip()} of all)")
    else:
        lines.append(f"{'accuracy':<16} {_pct(report['accuracy'])}  ({report['correct']}/{report['examples']} examples)")
    lines.append(f"{'macro-F1':<16} {_pct(report['macro_f1'])}  weighted-F1 {_pct(report['weighted_f1']).strip()}")
    ent = report.get("entities")
    if ent:
        lines.append(f"{'entities (' + ent['scheme'] + ')':<16} precision {_pct(ent['precision']).strip()}  "
                     f"recall {_pct(ent['recall']).strip()}  F1 {_pct(ent['f1']).strip()}  "
                     f"(gold {ent['support']}, predicted {ent['predicted']}, correct {ent['correct']})")
    lines.append("")
    lines.extend(_table("label", report["per_label"], max_rows))
    if ent and ent.get("per_type"):
        lines.append("")
        lines.extend(_table("entity", ent["per_type"], max_rows))
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:6.2f}%"


def _table(head: str, rows: dict, max_rows: int) -> list[str]:
    names = list(rows)
    hidden = 0
    if len(names) > max_rows:
        keep = set(sorted(names, key=lambda n: -rows[n]["support"])[:max_rows])
        hidden = len(names) - len(keep)
        names = [n for n in names if n in keep]
    width = max([len(head)] + [len(n) for n in names])
    out = [f"{head:<{width}}  precision  recall      f1  support  predicted"]
    for n in names:
        s = rows[n]
        out.append(f"{n:<{width}}  {100 * s['precision']:9.2f}  {100 * s['recall']:6.2f}  {100 * s['f1']:6.2f}"
                   f"  {s['support']:7d}  {s['predicted']:9d}")
    if hidden:
        out.append(f"... {hidden} less frequent labels not shown (all are in the JSON report)")
    return out
