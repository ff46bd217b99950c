"""A finished ``rnnx pretrain-lm`` run, as the taggers and classifiers that read it load it.

Kept apart from :mod:`pipeline.train.char_lm` (which trains LMs with the run-folder
machinery of :mod:`pipeline.train.fit`) so that ``fit`` can load an LM without an
import cycle.

>>> KIND, LM_CHARS_FILE
('char-lm', 'lm_chars.json')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.artifacts import read_json
from pipeline.data.lm_text import LMChars
from pipeline.errors import ConfigError

KIND = "char-lm"  # config.json "kind" of an LM run
LM_CHARS_FILE = "lm_chars.json"


@dataclass
class PretrainedLM:
    """A finished ``rnnx pretrain-lm`` run: its Keras model, character vocabulary and size."""

    path: Path
    model: object
    chars: LMChars
    shape: object
    config: dict
    metrics: dict


def load_lm(name: str, root: Path | str = "saved_models") -> PretrainedLM:
    """The LM run ``name`` (a folder, or a name under ``root``); a clear error for anything else."""
    from pipeline.models import load_model
    from pipeline.models.char_lm import LMShape
    from pipeline.train.rundir import RunFiles, check_files

    path = Path(name) if Path(name).is_dir() else Path(root) / name
    files = RunFiles(path)
    if not files.model.exists() or not files.config.exists():
        raise ConfigError(f"--lm {name}: {path} is not a finished language model run; train one with "
                          f"`rnnx pretrain-lm --data brown-upos --name {Path(name).name}`")
    config = read_json(files.config)
    if config.get("kind") != KIND:
        raise ConfigError(f"--lm {name}: {path} is a {config.get('model', {}).get('task', 'model')} run, not a "
                          "character language model from `rnnx pretrain-lm`")
    check_files(files, config)
    m = config["model"]
    shape = LMShape(int(m["num_chars"]), int(m["char_dim"]), int(m["units"]), float(m["dropout"]))
    metrics = read_json(files.metrics) if files.metrics.exists() else {}
    return PretrainedLM(path, load_model(files.model), LMChars.from_json(read_json(path / LM_CHARS_FILE)), shape,
                        config, metrics)
