"""What a model is made of, as plain data that is saved beside the model.

>>> cfg = ModelConfig(task="tagging", cell="lstm", bidirectional=True)
>>> cfg.describe()
'BiLSTM tagger (1 layer x 128 units, embedding 100)'
>>> ModelConfig(task="tagging", chars=True, crf=True).describe()
'BiLSTM-CNN-CRF tagger (1 layer x 128 units, embedding 100, character CNN 50 filters)'
>>> ModelConfig(task="tagging", crf=True, lm="brown-lm", lm_units=128).describe()
'BiLSTM-CRF tagger (1 layer x 128 units, embedding 100, character LM brown-lm 128 units (frozen))'
>>> ModelConfig(task="classification", pooling="max").describe()
'BiLSTM classifier (1 layer x 128 units, embedding 100, max-pooled states)'
>>> ModelConfig(task="classification", crf=True)
Traceback (most recent call last):
...
pipeline.errors.ConfigError: crf is for taggers (one label per token); a classifier has one label per text
>>> ModelConfig(task="tagging", cell="rnn")
Traceback (most recent call last):
...
pipeline.errors.ConfigError: cell 'rnn' is not known; choose one of: simplernn, lstm, gru
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pipeline.data.corpus import TASKS
from pipeline.errors import ConfigError

CELLS = ("simplernn", "lstm", "gru")
POOLINGS = ("last", "max", "mean")  # "last": the final recurrent state; max/mean: pooling.StatePooling
CELL_TITLES = {"simplernn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


@dataclass
class ModelConfig:
    task: str
    cell: str = "lstm"
    bidirectional: bool = True
    layers: int = 1
    units: int = 128
    embedding_dim: int = 100
    dropout: float = 0.25
    word_dropout: float = 0.0  # training only: share of word ids replaced by the unknown id (see word_dropout.py)
    vocab_size: int = 0  # filled in from the vocabulary
    num_labels: int = 0  # filled in from the label set
    chars: bool = False  # character CNN word features (Ma & Hovy 2016), concatenated with the word embedding
    char_dim: int = 30
    char_filters: int = 50
    char_width: int = 3
    num_chars: int = 0  # filled in from the character vocabulary
    crf: bool = False  # linear-chain CRF output (taggers): CRF log-likelihood, Viterbi decoding
    pooling: str = "last"  # classifiers: the last state, or max / mean over all states (see pooling.py)
    word_embedding: bool = True  # False: words are read only through their characters (chars and/or lm)
    lm: str = ""  # a pretrained character LM (rnnx pretrain-lm run) whose states are word features (char_lm.py)
    lm_fine_tune: bool = False  # train the LM's weights too (default: frozen, as pretrained)
    lm_units: int = 0  # filled in from the LM
    lm_char_dim: int = 0
    lm_num_chars: int = 0

    def __post_init__(self) -> None:
        checks = {
            "task": (self.task in TASKS, f"one of: {', '.join(TASKS)}"),
            "cell": (self.cell in CELLS, f"one of: {', '.join(CELLS)}"),
            "layers": (int(self.layers) >= 1, "at least 1"),
            "units": (int(self.units) >= 1, "at least 1"),
            "embedding_dim": (int(self.embedding_dim) >= 1, "at least 1"),
            "dropout": (0.0 <= float(self.dropout) < 1.0, "in [0, 1)"),
            "word_dropout": (0.0 <= float(self.word_dropout) < 1.0, "in [0, 1)"),
            "char_dim": (int(self.char_dim) >= 1, "at least 1"),
            "char_filters": (int(self.char_filters) >= 1, "at least 1"),
            "char_width": (int(self.char_width) >= 1 and int(self.char_width) % 2 == 1, "an odd number >= 1"),
        }
        for name, (ok, want) in checks.items():
            if not ok:
                value = getattr(self, name)
                if name in ("task", "cell"):
                    raise ConfigError(f"{name} {value!r} is not known; choose {want}")
                raise ConfigError(f"{name} must be {want}, got {value!r}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling {self.pooling!r} is not known; choose one of: {', '.join(POOLINGS)}")
        if self.pooling != "last" and self.task != "classification":
            raise ConfigError("pooling is for classifiers (one label per text); a tagger labels every state")
        if not self.word_embedding and not (self.chars or self.lm):
            raise ConfigError("without a word embedding a model reads words only through their characters; add "
                              "--chars and/or --lm")
        if self.crf and self.task != "tagging":
            raise ConfigError("crf is for taggers (one label per token); a classifier has one label per text")

    def describe(self) -> str:
        prefix = "Bi" if self.bidirectional else ""
        role = "tagger" if self.task == "tagging" else "classifier"
        layer_word = "layer" if self.layers == 1 else "layers"
        suffix = ("-CNN" if self.chars else "") + ("-CRF" if self.crf else "")
        extras = f", character CNN {self.char_filters} filters" if self.chars else ""
        if self.lm:
            tuned = "fine-tuned" if self.lm_fine_tune else "frozen"
            extras += f", character LM {self.lm}{f' {self.lm_units} units' if self.lm_units else ''} ({tuned})"
        extras += f", {self.pooling}-pooled states" if self.pooling != "last" else ""
        embedding = f"embedding {self.embedding_dim}" if self.word_embedding else "no word embedding"
        return (
            f"{prefix}{CELL_TITLES[self.cell]}{suffix} {role} ({self.layers} {layer_word} x {self.units} units, "
            f"{embedding}{extras})"
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
