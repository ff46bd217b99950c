"""Prove a text model (``model.text.onnx``: strings in, labels out) answers like its id model.

:func:`check_text_model` feeds the held-out split to the text model as strings
and, encoded by Python's :class:`~pipeline.data.vocab.Vocabulary`, to the id model
as ids; ids, labels and probabilities must agree (:data:`TEXT_ATOL`). The text
model itself is built by :mod:`pipeline.export.textmodel`.

Example::

    check_text_model("export/pos")["model.text.onnx"]["heldout"]["label_mismatches"]   # 0
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.check.results import Failure, IdFailure, LabelFailure, ToleranceFailure, raise_failures
from pipeline.export.textmodel import text_file_name
from pipeline.scoring.accuracy import accuracy
from pipeline.scoring.decode import argmax_label, argmax_labels

TEXT_ATOL = 1e-6


def check_text_model(folder: Path | str, *, text_file: str = "model.text.onnx", id_file: str = "model.onnx",
                     run_path: Path | str | None = None, limit: int | None = None, write: bool = True) -> dict:
    """Prove the text model answers like the id model on the whole held-out split.

    Tokens go to ``text_file`` as strings and, encoded by Python's
    :class:`~pipeline.data.vocab.Vocabulary`, to ``id_file`` as ids. Fails
    (:class:`~pipeline.errors.ParityError`) when an id, a label differs anywhere or
    a probability differs by more than :data:`TEXT_ATOL`. Also measured, not
    failed on: the same sentences in UPPER, Title and sWAP case, and every
    non-ASCII vocabulary word in upper and title case (lookup ids must match
    Python's). For classifiers with ``model.rawtext.onnx``: the same texts joined
    with spaces must give the same answers (a failure otherwise), and where the raw
    snippets are known (``mr``) the raw-text model's label agreement with the
    tokenised path is reported. Results go to ``parity.json`` under the file names.

    Example::

        check_text_model("export/pos")["model.text.onnx"]["heldout"]["label_mismatches"]   # 0
    """
    from pipeline.artifacts import read_json, update_json
    from pipeline.check.keras_side import find_run
    from pipeline.check.parity import heldout_split
    from pipeline.runtime.batches import run_batched
    from pipeline.runtime.session import ExportedModel
    from pipeline.runtime.text import TextModel

    folder = Path(folder)
    info = read_json(folder / "export.json")
    task = info["task"]
    run = find_run(info, run_path, folder)
    split_name, split = heldout_split(run)
    if limit:
        split = split.head(limit)
    id_model = ExportedModel(folder, model_file=id_file)
    vocab, names = id_model.vocab, id_model.labels.names
    text = TextModel(folder / text_file)

    def id_side(batch):
        ids = [vocab.encode(t) for t in batch]
        return ids, run_batched(id_model.run_ids, ids, task=task, batch_size=32)

    def text_side(batch):
        return text.run_tokens(batch, 32)

    tokens = [list(t) for t in split.tokens if len(t) > 0]
    ids, ref = id_side(tokens)
    got = text_side(tokens)
    held = _compare(ids, ref, got, names, task)
    held["accuracy"] = {"id_model": _accuracy(split, tokens, argmax_labels(ref, names, task), task),
                        "text_model": _accuracy(split, tokens, [_got_labels(g, task) for g in got], task)}

    variants = {}
    sample = tokens[:200]
    for label, fn in (("upper", str.upper), ("title", str.title), ("swapcase", str.swapcase)):
        batch = [[fn(t) for t in sent] for sent in sample]
        v_ids, v_ref = id_side(batch)
        variants[label] = _compare(v_ids, v_ref, text_side(batch), names, task)
    non_ascii = [w for w in vocab.words[2:] if not w.isascii()]
    sweep_tokens = [[form] for w in non_ascii for form in {w.upper(), w.title(), w.capitalize(), w} if form]
    sweep = {"words": len(non_ascii), "spellings": len(sweep_tokens), "id_mismatches": 0, "examples": []}
    if sweep_tokens:
        sweep_got = text_side(sweep_tokens)
        for tok, g in zip(sweep_tokens, sweep_got):
            want = vocab.encode(tok)[0]
            if int(g["ids"][0]) != want:
                sweep["id_mismatches"] += 1
                if len(sweep["examples"]) < 10:
                    sweep["examples"].append({"token": tok[0], "python_id": want, "graph_id": int(g["ids"][0])})

    failures = _failures(held, "held-out")
    report = {
        "model_file": text_file, "reference": id_file, "task": task, "tolerance": {"atol": TEXT_ATOL},
        "heldout": {"split": f"{split_name}: {split.source}", "sequences": len(tokens), **held},
        "case_variants": variants, "non_ascii_vocabulary": sweep,
    }
    reports = {text_file: report}
    raw_file = text_file_name(id_file, raw=True)
    if task == "classification" and (folder / raw_file).exists() and text_file == text_file_name(id_file):
        raw_report = _check_rawtext(folder / raw_file, text_file, tokens, got, names, info, split_name, split)
        failures += _failures(raw_report["joined"], f"{raw_file} (tokens joined by spaces)")
        reports[raw_file] = raw_report
    for name, rep in reports.items():
        rep["passed"] = not failures
        rep["failures"] = [str(f) for f in failures]
    if write:
        for name, rep in reports.items():
            update_json(folder / "parity.json", name, rep)
    raise_failures(f"{folder / text_file} does not answer like {id_file}", failures)
    return reports


def _got_labels(out, task):
    return [str(t) for t in out["tags"]] if task == "tagging" else str(out["label"])


def _compare(ids, ref, got, names, task) -> dict:
    """Ids, labels and probabilities of the text model (``got``) against the id model."""
    id_mis = label_mis = positions = 0
    max_diff = 0.0
    examples = []
    for i, (want_ids, r, g) in enumerate(zip(ids, ref, got)):
        bad_ids = np.asarray(want_ids, dtype=np.int64) != g["ids"]
        id_mis += int(bad_ids.sum())
        want = argmax_label(r, names, task)
        have = _got_labels(g, task)
        if task == "tagging":
            positions += len(want)
            bad = sum(a != b for a, b in zip(want, have))
        else:
            positions += 1
            bad = int(want != have)
        label_mis += bad
        if r.size:
            max_diff = max(max_diff, float(np.abs(r.astype(np.float64) - g["probs"]).max()))
        if (bad or bad_ids.any()) and len(examples) < 5:
            examples.append({"sequence": i, "id_mismatch_at": np.flatnonzero(bad_ids).tolist()[:5],
                             "labels_differ": bool(bad)})
    return {"positions": positions, "id_mismatches": id_mis, "label_mismatches": label_mis,
            "max_abs_diff": max_diff, "examples": examples}


def _failures(comp: dict, where: str) -> list[Failure]:
    out: list[Failure] = []
    if comp["id_mismatches"]:
        out.append(IdFailure(where, comp["id_mismatches"], tuple(comp["examples"])))
    if comp["label_mismatches"]:
        out.append(LabelFailure(where, comp["label_mismatches"], comp["positions"], "{differing} of {total} labels differ"))
    if comp["max_abs_diff"] > TEXT_ATOL:
        out.append(ToleranceFailure(where, "probs difference", comp["max_abs_diff"], TEXT_ATOL))
    return out


def _accuracy(split, tokens, predicted, task) -> float:
    gold = [lab for toks, lab in zip(split.tokens, split.labels) if len(toks) > 0]
    return accuracy(gold, predicted, task=task)


def _check_rawtext(path: Path, reference: str, tokens, text_out, names, info, split_name, split) -> dict:
    from pipeline.data.datasets import DATASETS
    from pipeline.runtime.text import TextModel

    raw = TextModel(path)
    joined = raw.run_texts([" ".join(t) for t in tokens], 32)
    report = {"model_file": path.name, "reference": reference,
              "joined": _compare([o["ids"] for o in text_out], [o["probs"] for o in text_out], joined, names,
                                 "classification")}
    dataset = DATASETS.get((info.get("data") or {}).get("data"))
    texts = dataset.raw_texts(split_name, split) if dataset and dataset.raw_texts else None
    if texts is None:
        report["raw_text"] = {"measured": False,
                              "why": "the untokenised texts of this data are not known; only built-in mr has them"}
        return report
    answers = raw.run_texts(texts, 32)
    predicted = [str(a["label"]) for a in answers]
    tokenised = [str(o["label"]) for o in text_out]
    split_tokens = sum(len(t) for t in split.tokens)
    space_tokens = sum(len(t.split(" ")) - t.split(" ").count("") for t in texts)
    report["raw_text"] = {
        "measured": True,
        "texts": len(texts),
        "label_agreement_with_tokenized": sum(a == b for a, b in zip(predicted, tokenised)) / max(len(texts), 1),
        "accuracy_raw_text": sum(a == b for a, b in zip(predicted, split.labels)) / max(len(texts), 1),
        "accuracy_tokenized": sum(a == b for a, b in zip(tokenised, split.labels)) / max(len(texts), 1),
        "tokens_tokenizer": split_tokens,
        "tokens_space_split": space_tokens,
        "note": "StringSplit splits on spaces only: punctuation and clitics stay attached (often unknown words)",
    }
    return report
