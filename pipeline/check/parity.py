"""``rnnx check``: prove that ONNX Runtime gives Keras's answers.

Two comparisons, both at real (non-padding) positions only:

* the whole held-out split of the run's data, in length-sorted padded batches;
* random batches (batch 1..64, lengths 1..200, length-1 rows included) of random
  ids, padded inside one batch, so padding handling is exercised hard.

It fails when the max absolute probability difference exceeds ``atol``
(1e-4), or when the predicted label differs anywhere the Keras top-2 margin
exceeds ``margin`` (1e-3) — a flip between near-ties is not a failure. The
report (max/mean difference, label agreement, accuracy under each runtime) is
written to ``export/NAME/parity.json`` whether it passes or not.

Example::

    report = check_export("export/pos")    # raises ParityError on failure
    report["heldout"]["max_abs_diff"]      # e.g. 3.2e-07
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.artifacts import read_json, update_json
from pipeline.check.results import LabelFailure, ShapeFailure, ToleranceFailure, raise_failures
from pipeline.errors import ParityError, RnnxError
from pipeline.data.features import Encoded, collate, ids_of
from pipeline.runtime.batches import pad_batch, run_batched


@dataclass
class Tolerance:
    atol: float = 1e-4
    margin: float = 1e-3


class Comparison:
    """Accumulates differences between reference and candidate probabilities."""

    def __init__(self) -> None:
        self.max_diff = 0.0
        self.sum_diff = 0.0
        self.values = 0
        self.positions = 0
        self.agree = 0
        self.flips_beyond_margin = 0
        self.worst: dict = {}

    def add(self, ref: np.ndarray, got: np.ndarray, where: str, margin: float) -> None:
        """``ref``/``got``: ``[positions, labels]`` at real positions only."""
        if ref.shape != got.shape:
            failure = ShapeFailure(where, ref.shape, got.shape)
            raise ParityError(str(failure), failures=(failure,))
        if ref.size == 0:
            return
        diff = np.abs(ref.astype(np.float64) - got.astype(np.float64))
        if diff.max() > self.max_diff:
            self.max_diff = float(diff.max())
            self.worst = {"where": where, "max_abs_diff": self.max_diff}
        self.sum_diff += float(diff.sum())
        self.values += diff.size
        ref_top = ref.argmax(-1)
        got_top = got.argmax(-1)
        self.positions += ref_top.size
        self.agree += int((ref_top == got_top).sum())
        if ref.shape[-1] > 1:
            top2 = np.sort(ref, axis=-1)[..., -2:]
            confident = (top2[..., 1] - top2[..., 0]) > margin
            self.flips_beyond_margin += int(((ref_top != got_top) & confident).sum())

    def summary(self) -> dict:
        return {
            "positions": self.positions,
            "max_abs_diff": self.max_diff,
            "mean_abs_diff": self.sum_diff / max(self.values, 1),
            "label_agreement": self.agree / max(self.positions, 1),
            "label_flips_beyond_margin": self.flips_beyond_margin,
            "worst": self.worst,
        }


def heldout_split(run):
    """The split a run is checked on: test if known, else dev."""
    from pipeline.data.sources import resolve

    cfg = run.config
    try:
        splits = resolve(cfg["data"], fmt=cfg.get("data_format"), column=cfg.get("column", "upos"),
                         dev=cfg.get("dev"), test=cfg.get("test"))
    except RnnxError as exc:
        raise RnnxError(f"the held-out data of {run.files.root} cannot be read: {exc}. Its paths (config.json) are "
                        "as given to `rnnx train`: run from the folder it was trained in, or copy the data files "
                        "there") from None
    name = "test" if "test" in splits else "dev"
    return name, splits[name]


def random_batches(vocab_size: int, *, count: int, seed: int = 0, num_chars: int = 0,
                   lm: tuple[int, int] | None = None) -> list:
    """Padded id batches of random size and ragged random lengths (1..200).

    With ``num_chars`` (a character-CNN model) each batch is ``{"ids", "chars"}``:
    every word gets 1..30 random character ids (unknown characters included), so
    words longer than any seen in training are exercised too. With ``lm``
    (``(LM characters, the space's id)``, a model with character-LM features) each
    batch also holds the ``lm_*`` inputs of random words of 1..30 LM characters.
    """
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        batch = int(rng.integers(1, 65))
        lengths = rng.integers(1, 201, size=batch)
        lengths[0] = 1  # every batch holds a length-1 row
        if k % 2:
            lengths[-1] = 200
        rows = [rng.integers(1, vocab_size, size=int(n)) for n in lengths]
        if not num_chars and not lm:
            out.append(pad_batch(rows))
            continue
        words = ([[rng.integers(1, num_chars, size=int(rng.integers(1, 31))).tolist() for _ in row] for row in rows]
                 if num_chars else [None] * len(rows))
        lm_rows = [_random_lm_row(rng, len(row), *lm) for row in rows] if lm else [None] * len(rows)
        out.append(collate([Encoded(row.tolist(), w, x) for row, w, x in zip(rows, words, lm_rows)]))
    return out


def _random_lm_row(rng, tokens: int, num_chars: int, space: int) -> tuple[list, list, list]:
    """``(lm_chars, starts, ends)`` of ``tokens`` random words in the layout of :mod:`pipeline.data.lm_text`."""
    chars, starts, ends = [space], [], []
    for _ in range(tokens):
        word = rng.integers(1, num_chars, size=int(rng.integers(1, 31))).tolist()
        starts.append(len(chars))
        chars += word
        ends.append(len(chars) - 1)
        chars.append(space)
    return chars, starts, ends


def _positions(probs: np.ndarray, x, task: str) -> np.ndarray:
    if task == "tagging":
        return probs[ids_of(x) != 0]
    return probs


def _keras_viterbi(model, probs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    from pipeline.models.crf import decode

    return decode(model, probs, lengths)


def _tag_mismatches(ref_tags: list, got_tags: list) -> dict:
    """Exact comparison of decoded tag sequences (CRF taggers)."""
    sequences = sum(not np.array_equal(r, g) for r, g in zip(ref_tags, got_tags))
    tokens = sum(int((np.asarray(r) != np.asarray(g)).sum()) for r, g in zip(ref_tags, got_tags))
    return {"sequences_compared": len(ref_tags), "sequences_differing": int(sequences), "tokens_differing": tokens}


def check_export(
    folder: Path | str,
    *,
    model_file: str = "model.onnx",
    tol: Tolerance = Tolerance(),
    random_count: int = 12,
    limit: int | None = None,
    run_path: Path | str | None = None,
    write: bool = True,
) -> dict:
    from pipeline.check.keras_side import keras_side
    from pipeline.runtime.session import ExportedModel
    from pipeline.scoring.decode import argmax_labels, path_labels
    from pipeline.train.evaluate import decode_model_predictions, score

    folder = Path(folder)
    info = read_json(folder / "export.json")
    run, keras_fn = keras_side(info, run_path, folder)
    onnx_model = ExportedModel(folder, model_file=model_file)
    task = info["task"]
    if run.vocab.sha256() != onnx_model.vocab.sha256() or run.labels.names != onnx_model.labels.names:
        raise RnnxError(f"{run.files.root} is not the run {folder} was exported from (its vocabulary or labels "
                        "differ); pass --run with the run it was exported from")

    split_name, split = heldout_split(run)
    if limit:
        split = split.head(limit)
    encoded = run.encoder.encode_all(split.tokens)
    ref = run_batched(keras_fn, encoded, task=task, batch_size=32, collate=collate)
    got = run_batched(onnx_model.run, encoded, task=task, batch_size=32, collate=collate)
    held = Comparison()
    for i, (r, g) in enumerate(zip(ref, got)):
        held.add(np.atleast_2d(r), np.atleast_2d(g), f"{split.source} sequence {i}", tol.margin)
    names = run.labels.names
    predictions = {"keras": decode_model_predictions(run.model, ref, names, task),
                   "onnxruntime": argmax_labels(got, names, task)}
    tags = None
    if onnx_model.has_tags:
        paths = run_batched(onnx_model.run_tags, encoded, task=task, batch_size=32, collate=collate)
        predictions["onnxruntime"] = path_labels(paths, names)
        tags = _tag_mismatches(predictions["keras"], predictions["onnxruntime"])
    accuracy = {runtime: score(split, predicted, run.vocab, run.labels)["accuracy"]
                for runtime, predicted in predictions.items()}

    rand = Comparison()
    rand_tags = {"sequences_compared": 0, "sequences_differing": 0, "tokens_differing": 0}
    cfg = run.model_config
    lm = run.encoder.lm
    for b, batch in enumerate(random_batches(run.vocab.size, count=random_count,
                                             num_chars=cfg.num_chars if cfg.chars else 0,
                                             lm=(lm.size, lm.encode_text(" ")[0]) if lm else None)):
        ref_probs = np.asarray(keras_fn(batch))
        shape = "x".join(str(d) for d in ids_of(batch).shape)
        rand.add(_positions(ref_probs, batch, task), _positions(onnx_model.run(batch), batch, task),
                 f"random batch {b} (shape {shape})", tol.margin)
        if onnx_model.has_tags:
            lengths = (ids_of(batch) != 0).sum(axis=1)
            ref_paths = [p[:n] for p, n in zip(_keras_viterbi(run.model, ref_probs, lengths), lengths)]
            got_paths = [p[:n] for p, n in zip(onnx_model.run_tags(batch), lengths)]
            for key, value in _tag_mismatches(ref_paths, got_paths).items():
                rand_tags[key] += value

    failures = []
    if tags is not None:
        for label, found in (("held-out", tags), ("random", rand_tags)):
            if found["sequences_differing"]:
                failures.append(LabelFailure(label, found["sequences_differing"], found["sequences_compared"],
                                             "CRF tags differ from Keras's Viterbi decoding in {differing} of "
                                             "{total} sequences"))
    for label, comp in (("held-out", held), ("random", rand)):
        if comp.max_diff > tol.atol:
            failures.append(ToleranceFailure(label, "keras - onnx", comp.max_diff, tol.atol, at=comp.worst["where"]))
        if comp.flips_beyond_margin:
            failures.append(LabelFailure(label, comp.flips_beyond_margin, comp.positions,
                                         "{differing} predicted labels differ where the top-2 margin exceeds "
                                         f"{tol.margin:g}"))
    report = {
        "model_file": model_file,
        "engine": info.get("engine"),
        "task": task,
        "tolerance": {"atol": tol.atol, "margin": tol.margin},
        "heldout": {"split": f"{split_name}: {split.source}", "sequences": len(split), **held.summary(),
                    "accuracy": accuracy, **({"crf_tags": tags} if tags is not None else {})},
        "random": {"batches": random_count, **rand.summary(), **({"crf_tags": rand_tags} if tags is not None else {})},
        "passed": not failures,
        "failures": [str(f) for f in failures],
    }
    if write:
        update_json(folder / "parity.json", model_file, report)
    raise_failures(f"{folder / model_file} fails parity", failures)
    return report
