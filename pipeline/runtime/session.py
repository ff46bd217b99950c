"""Load an exported model folder (``export/NAME``) into ONNX Runtime.

Imports numpy and onnxruntime only. One ``InferenceSession`` per model, reused
for every call; ONNX Runtime sessions are safe to run from several threads.

Example::

    tagger = Tagger.load("export/pos")
    tagger.predict(["They are early birds ."])
    # [[('They', 'PRON'), ('are', 'VERB'), ('early', 'ADJ'), ('birds', 'NOUN'), ('.', '.')]]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.data.chars import CharVocab
from pipeline.data.lm_text import LMChars
from pipeline.data.features import Encoder, as_feeds
from pipeline.data.vocab import Labels, Vocabulary
from pipeline.errors import RnnxError
from pipeline.runtime.batches import run_batched
from pipeline.runtime.encoding import encode_tokens
from pipeline.scoring.decode import argmax_labels, path_labels


def make_session(path: Path | str, threads: int | None = None):
    """An ONNX Runtime CPU session; ``threads=1`` pins it to one core."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise RnnxError(f"ONNX Runtime could not load {path}: {exc}") from None


def _read(path: Path) -> dict:
    if not path.exists():
        raise RnnxError(f"{path} is missing: {path.parent} is not a complete rnnx export (run `rnnx export`)")
    return json.loads(path.read_text(encoding="utf-8"))


def check_bound_files(model_path: Path, meta: dict, vocab: Vocabulary, labels: Labels,
                      chars: CharVocab | None = None, lm: LMChars | None = None) -> None:
    """Refuse a ``vocab.json``/``labels.json``/``chars.json``/``lm_chars.json`` that is not the one ``model_path`` was exported with.

    The export writes each file's checksum (or the labels themselves) into the ONNX
    model's metadata; a file copied from another export would give wrong answers
    without an error, so it is an error here.
    """
    folder = model_path.parent
    problems = []
    if meta.get("vocab_sha256") and meta["vocab_sha256"] != vocab.sha256():
        problems.append(f"{folder / 'vocab.json'} (sha256 {vocab.sha256()[:12]}..., the model expects "
                        f"{meta['vocab_sha256'][:12]}...)")
    if meta.get("labels"):
        try:
            expected = json.loads(meta["labels"])
        except ValueError:
            expected = None
        if isinstance(expected, list) and expected != labels.names:
            problems.append(f"{folder / 'labels.json'} ({len(labels.names)} labels {labels.names[:4]}..., the model "
                            f"expects {len(expected)} labels {expected[:4]}...)")
    for file, key, table in (("chars.json", "chars_sha256", chars), ("lm_chars.json", "lm_chars_sha256", lm)):
        if table is not None and meta.get(key) and meta[key] != table.sha256():
            problems.append(f"{folder / file} (sha256 {table.sha256()[:12]}..., the model expects "
                            f"{meta[key][:12]}...)")
    if problems:
        raise RnnxError(f"{'; '.join(problems)}: not the file{'s' if len(problems) > 1 else ''} {model_path.name} "
                        "was exported with; copy the export folder whole, or export the run again")


def read_encoder(folder: Path | str, info: dict | None = None) -> Encoder:
    """The encoder of an export folder: ``vocab.json``, ``chars.json`` for a character-CNN model and
    ``lm_chars.json`` for a model with character-LM features."""
    folder = Path(folder)
    info = _read(folder / "export.json") if info is None else info
    model = info.get("model", {})
    chars = CharVocab.from_json(_read(folder / "chars.json")) if model.get("chars") else None
    lm = LMChars.from_json(_read(folder / "lm_chars.json")) if model.get("lm") else None
    return Encoder(Vocabulary.from_json(_read(folder / "vocab.json")), chars, lm)


class ExportedModel:
    """An exported rnnx model: its session, vocabulary and labels."""

    def __init__(self, folder: Path | str, *, threads: int | None = None, model_file: str = "model.onnx"):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise RnnxError(f"{self.folder} does not exist; export a model with `rnnx export saved_models/NAME`")
        self.info = _read(self.folder / "export.json")
        self.encoder = read_encoder(self.folder, self.info)
        self.vocab = self.encoder.vocab
        chars = self.encoder.chars
        self.labels = Labels.from_json(_read(self.folder / "labels.json"))
        self.task: str = self.info["task"]
        self.model_path = self.folder / model_file
        if not self.model_path.exists():
            raise RnnxError(f"{self.model_path} is missing; re-run `rnnx export`")
        self.session = make_session(self.model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.has_tags = "tags" in self.output_names  # a CRF tagger: the graph decodes the best tag sequence
        check_bound_files(self.model_path, self.session.get_modelmeta().custom_metadata_map, self.vocab,
                          self.labels, chars, self.encoder.lm)

    @classmethod
    def load(cls, folder: Path | str, **kwargs) -> "ExportedModel":
        return cls(folder, **kwargs)

    def run_ids(self, ids: np.ndarray) -> np.ndarray:
        """Raw call: right-padded int64 ``ids[batch, time]`` -> probabilities (word-level models)."""
        return self.run(ids)

    def run(self, x, output: str = "probs") -> np.ndarray:
        """Raw call on collated inputs (:meth:`Encoder.collate`): ``ids`` or ``{"ids", "chars"}`` -> one output."""
        feeds = self._feeds(x)
        name = output if output in self.output_names else self.output_names[0]
        return self.session.run([name], feeds)[0]

    def run_tags(self, x) -> np.ndarray:
        """A CRF tagger's decoded label ids ``[batch, time]`` for collated inputs."""
        if not self.has_tags:
            raise RnnxError(f"{self.model_path} has no tags output: it is not a CRF tagger")
        return self.run(x, output="tags")

    def _feeds(self, x) -> dict:
        feeds = {k: np.asarray(v) for k, v in as_feeds(x).items()}
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise RnnxError(f"{self.model_path} reads inputs {self.input_names}; missing {missing} (encode tokens "
                            "with this model's encoder: ExportedModel.encoder)")
        layouts = {"ids": "2-D [batch, time]", "chars": "3-D [batch, time, chars]"}
        for name in self.input_names:
            arr = feeds[name]
            if name in layouts and arr.ndim != int(layouts[name][0]):
                raise RnnxError(f"{name} must be a {layouts[name]} array, got shape {arr.shape}")
            feeds[name] = arr.astype(np.int64, copy=False)
        if "chars" in feeds and feeds["chars"].shape[:2] != feeds["ids"].shape:
            raise RnnxError(f"chars has shape {feeds['chars'].shape}; its first two axes must match ids "
                            f"{feeds['ids'].shape}")
        return {n: feeds[n] for n in self.input_names}

    def tokenize(self, text: str) -> list[str]:
        """Split raw text the way the training corpus was split (see export.json)."""
        from pipeline.data.tokenize import tokenize

        return tokenize(text, contractions=self.info.get("tokenizer", {}).get("contractions", True))

    def probs_tokens(self, batch: Sequence[Sequence[str]], batch_size: int = 32) -> list[np.ndarray]:
        rows = encode_tokens(self.encoder, batch)
        return run_batched(self.run, rows.sentences, task=self.task, batch_size=batch_size, collate=rows.collate)


class Tagger(ExportedModel):
    """Tags tokens with an exported tagger."""

    def predict_tokens(self, batch: Sequence[Sequence[str]], batch_size: int = 32) -> list[list[str]]:
        """Labels per token: the CRF's Viterbi path for a CRF tagger, else each token's most probable label."""
        names = self.labels.names
        if self.has_tags:
            rows = encode_tokens(self.encoder, batch)
            paths = run_batched(self.run_tags, rows.sentences, task=self.task, batch_size=batch_size,
                                collate=rows.collate)
            return path_labels(paths, names)
        return argmax_labels(self.probs_tokens(batch, batch_size), names, "tagging")

    def predict(self, texts: Sequence[str] | str, batch_size: int = 32):
        """``(token, tag)`` pairs per text; a single string is one text and gets its own list of pairs."""
        if isinstance(texts, str):
            return self.predict([texts], batch_size)[0]
        _check_texts(texts)
        tokens = [self.tokenize(t) for t in texts]
        return [list(zip(toks, tags)) for toks, tags in zip(tokens, self.predict_tokens(tokens, batch_size))]


class Classifier(ExportedModel):
    """Labels whole texts with an exported classifier."""

    def predict_tokens(self, batch: Sequence[Sequence[str]], batch_size: int = 32) -> list[tuple[str, dict]]:
        for i, tokens in enumerate(batch):
            if len(tokens) == 0:
                raise RnnxError(f"text {i + 1} is empty: there is nothing to classify")
        names = self.labels.names
        out = []
        for p in self.probs_tokens(batch, batch_size):
            out.append((names[int(p.argmax())], {n: float(v) for n, v in zip(names, p)}))
        return out

    def predict(self, texts: Sequence[str] | str, batch_size: int = 32):
        """``(label, probabilities)`` per text; a single string is one text and gets one pair."""
        if isinstance(texts, str):
            return self.predict([texts], batch_size)[0]
        _check_texts(texts)
        return self.predict_tokens([self.tokenize(t) for t in texts], batch_size)


def _check_texts(texts) -> None:
    """``predict`` takes raw strings; token lists go to ``predict_tokens``."""
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise RnnxError(f"predict() takes texts (strings); item {i + 1} is a {type(t).__name__}: pass token "
                            f"lists to predict_tokens() instead")


def load(folder: Path | str, **kwargs) -> Tagger | Classifier:
    """A :class:`Tagger` or :class:`Classifier`, whichever the export holds."""
    task = _read(Path(folder) / "export.json")["task"] if Path(folder).is_dir() else None
    return (Tagger if task == "tagging" else Classifier)(folder, **kwargs)
