"""A trained run on disk: ``saved_models/NAME/``.

=====================  ===========================================================
``model.keras``        the trained Keras model (best weights by validation loss)
``vocab.json``         token vocabulary (id 0 padding, id 1 unknown), lowercasing
``labels.json``        label names in id order
``chars.json``         character vocabulary (models with character features)
``lm_chars.json``      the character LM's vocabulary (models with character-LM features; a copy of the LM's)
``config.json``        model config, training options, dataset (and its sha256), versions, and the
                       sha256 of vocab/labels/chars (checked by :func:`load_run`)
``metrics.json``       evaluation on the dev and test splits
``history.csv/.json``  per-epoch loss and accuracy
``training_curve.png`` the history as a plot
``logs/``              TensorBoard logs
``timing.json``        training seconds so far (kept across ``--resume``)
``.rnnx-run``          the marker that makes the folder rnnx's own (only marked folders are replaced)
=====================  ===========================================================

A folder is complete when ``model.keras`` exists: training writes into
``NAME.partial/`` and renames it only at the very end.

>>> RunFiles("saved_models/pos").model
PosixPath('saved_models/pos/model.keras')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.artifacts import read_json
from pipeline.data.chars import CharVocab
from pipeline.data.features import Encoder
from pipeline.data.vocab import Labels, Vocabulary
from pipeline.errors import RnnxError
from pipeline.models.config import ModelConfig


class RunFiles:
    """Paths inside a run folder."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.model = self.root / "model.keras"
        self.vocab = self.root / "vocab.json"
        self.labels = self.root / "labels.json"
        self.chars = self.root / "chars.json"
        self.lm_chars = self.root / "lm_chars.json"
        self.config = self.root / "config.json"
        self.metrics = self.root / "metrics.json"
        self.history_csv = self.root / "history.csv"
        self.history_json = self.root / "history.json"
        self.curve = self.root / "training_curve.png"
        self.logs = self.root / "logs"
        self.backup = self.root / "backup"
        self.best = self.root / "checkpoints" / "best.keras"


@dataclass
class Run:
    files: RunFiles
    config: dict
    model_config: ModelConfig
    vocab: Vocabulary
    labels: Labels
    _model: object = None

    @property
    def task(self) -> str:
        return self.model_config.task

    @property
    def encoder(self) -> Encoder:
        """Tokens -> model inputs (word ids, and characters for a character-CNN model)."""
        from pipeline.data.lm_text import LMChars

        chars = CharVocab.from_json(read_json(self.files.chars)) if self.model_config.chars else None
        lm = LMChars.from_json(read_json(self.files.lm_chars)) if self.model_config.lm else None
        return Encoder(self.vocab, chars, lm)

    @property
    def model(self):
        """The Keras model, loaded on first use."""
        if self._model is None:
            from pipeline.models import load_model

            self._model = load_model(self.files.model)
        return self._model


def check_files(files: RunFiles, config: dict) -> None:
    """Refuse a vocabulary, label or character file that is not the one the run was trained with.

    Training records each file's sha256 in ``config.json`` (``files_sha256``); a file
    copied in from another run would be used silently otherwise.
    """
    from pipeline.data.fetch import sha256_file

    for name, expected in (config.get("files_sha256") or {}).items():
        path = files.root / name
        if not path.exists():
            raise RnnxError(f"{path} is missing: {files.root} is not a complete rnnx run")
        if sha256_file(path) != expected:
            raise RnnxError(f"{path} is not the file this model was trained with (sha256 differs from "
                            f"config.json's files_sha256); restore it, or train the run again")


def load_run(path: Path | str) -> Run:
    """Open a complete run folder (raises a clear error for anything else)."""
    files = RunFiles(path)
    if not files.root.is_dir():
        raise RnnxError(f"{files.root} does not exist; train one with `rnnx train` or check the path")
    partial = files.root.with_name(files.root.name + ".partial")
    if not files.model.exists():
        hint = f" (an interrupted run is in {partial}; resume it with `rnnx train --resume`)" if partial.exists() else ""
        raise RnnxError(f"{files.root} has no model.keras: it is not a complete rnnx run{hint}")
    config = read_json(files.config)
    check_files(files, config)
    return Run(
        files=files,
        config=config,
        model_config=ModelConfig.from_json(config["model"]),
        vocab=Vocabulary.from_json(read_json(files.vocab)),
        labels=Labels.from_json(read_json(files.labels)),
    )
