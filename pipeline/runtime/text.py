"""Run a self-contained ``model.text.onnx`` (or ``model.rawtext.onnx``): one file, no vocabulary.

The text model holds the vocabulary, the lowercasing and the label names itself
(see :mod:`pipeline.export.textmodel`); this module only pads token lists with
``""`` into a string array, runs one reused ONNX Runtime session (safe to call
from several threads) and cuts the answers back to each input's length.
Imports numpy and onnxruntime only.

Raw sentences are tokenised with :func:`pipeline.data.tokenize.tokenize`; the
contraction rule the model was trained with (Brown keeps ``don't`` whole, the
movie reviews split it) is read from the model's metadata.

Example::

    tagger = TextModel.load("export/pos/model.text.onnx", threads=1)
    tagger.predict_tokens([["They", "are", "early", "birds", "."]])
    # [['PRON', 'VERB', 'ADJ', 'NOUN', '.']]
    tagger.predict(["They are early birds."])
    # [[('They', 'PRON'), ('are', 'VERB'), ('early', 'ADJ'), ('birds', 'NOUN'), ('.', '.')]]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.errors import RnnxError
from pipeline.data.batching import bucket_batches


def pad_tokens(batch: Sequence[Sequence[str]], min_width: int = 0) -> np.ndarray:
    """Right-pad token lists with ``""`` into a string ``[batch, time]`` array.

    >>> pad_tokens([["a", "b"], ["c"]]).tolist()
    [['a', 'b'], ['c', '']]
    """
    width = max([min_width, *(len(t) for t in batch)])
    out = np.full((len(batch), width), "", dtype=object)
    for row, tokens in enumerate(batch):
        if "" in tokens:
            raise RnnxError(f"sequence {row + 1} holds an empty token; \"\" is reserved for padding")
        out[row, : len(tokens)] = tokens
    return out


class TextModel:
    """A ``model.text.onnx`` / ``model.rawtext.onnx`` session with list-in, list-out helpers."""

    def __init__(self, path: Path | str, *, threads: int | None = None):
        from pipeline.runtime.session import make_session

        self.path = Path(path)
        if self.path.is_dir():
            self.path = self.path / "model.text.onnx"
        if not self.path.exists():
            raise RnnxError(f"{self.path} is missing; write it with `rnnx export` (text models are on by default)")
        self.session = make_session(self.path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        self.task = "tagging" if "tags" in self.output_names else "classification"
        self.labels: list[str] = json.loads(meta.get("labels", "[]"))
        self.raw_text = self.input_name == "text"
        self.tokenizer: dict = json.loads(meta.get("tokenizer", '{"contractions": true}'))

    @classmethod
    def load(cls, path: Path | str, **kwargs) -> "TextModel":
        return cls(path, **kwargs)

    def run(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """One raw call: a padded string array -> ``{output name: array}``."""
        values = self.session.run(None, {self.input_name: inputs})
        return dict(zip(self.output_names, values))

    def run_tokens(self, batch: Sequence[Sequence[str]], batch_size: int = 32) -> list[dict[str, np.ndarray]]:
        """Per sequence, the model's outputs cut to its length (batched by length)."""
        if self.raw_text:
            raise RnnxError(f"{self.path.name} takes raw text; call run_texts, or use model.text.onnx for tokens")
        results: list = [None] * len(batch)
        for idx in bucket_batches([len(t) for t in batch], batch_size, shuffle=False):
            out = self.run(pad_tokens([batch[i] for i in idx]))
            for row, i in enumerate(idx):
                n = len(batch[i])
                if self.task == "tagging":
                    results[i] = {"tags": out["tags"][row, :n], "probs": out["probs"][row, :n], "ids": out["ids"][row, :n]}
                else:
                    results[i] = {"label": out["label"][row], "probs": out["probs"][row], "ids": out["ids"][row, :n]}
        return results

    def run_texts(self, texts: Sequence[str], batch_size: int = 32) -> list[dict[str, np.ndarray]]:
        """Raw-text models only: per text, ``label``, ``probs`` and ``ids`` (space-split in the graph)."""
        if not self.raw_text:
            raise RnnxError(f"{self.path.name} takes tokens; call run_tokens or predict")
        results: list = [None] * len(texts)
        for idx in bucket_batches([len(t.split()) for t in texts], batch_size, shuffle=False):
            out = self.run(np.asarray([texts[i] for i in idx], dtype=object))
            for row, i in enumerate(idx):
                n = int((out["ids"][row] != 0).sum())
                results[i] = {"label": out["label"][row], "probs": out["probs"][row], "ids": out["ids"][row, :n]}
        return results

    def predict_tokens(self, batch: Sequence[Sequence[str]], batch_size: int = 32) -> list:
        """Tagger: one tag list per sequence. Classifier: ``(label, {label: prob})`` per sequence."""
        out = self.run_tokens(batch, batch_size)
        if self.task == "tagging":
            return [r["tags"].tolist() for r in out]
        return [(str(r["label"]), dict(zip(self.labels, map(float, r["probs"])))) for r in out]

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list:
        """Raw sentences: tokenised here (raw-text models split on spaces in the graph)."""
        if self.raw_text:
            return [(str(r["label"]), dict(zip(self.labels, map(float, r["probs"]))))
                    for r in self.run_texts(texts, batch_size)]
        from pipeline.data.tokenize import tokenize

        tokens = [tokenize(t, contractions=bool(self.tokenizer.get("contractions", True))) for t in texts]
        if self.task == "tagging":
            return [list(zip(t, tags)) for t, tags in zip(tokens, self.predict_tokens(tokens, batch_size))]
        return self.predict_tokens(tokens, batch_size)
