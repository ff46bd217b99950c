"""spaCy's default CPU tagger as a peer for ``benchmarks/peers.py``, trained on brown-upos.

The brown-upos tags are the 12 universal tags of the Brown corpus (``NOUN VERB ... . X``), not
Universal Dependencies POS names, so they go into ``token.tag_`` and spaCy's ``tagger`` component
(which predicts ``tag_`` for any tag set) is trained on them. The config is the one
``spacy init config --lang en --pipeline tagger --optimize efficiency`` writes for CPU, unchanged
except for ``training.max_steps`` / ``training.patience`` when they are given (default: spaCy's
own). ``spacy train`` runs in a child process on CPU with every thread count set to 1; the trained
model is cached in a folder (default ``export/spacy-brown-upos/``), so a second run reuses it.

spaCy is **not** an rnnx dependency; install it into the virtualenv for the benchmark only::

    .venv/bin/pip install "spacy>=3.8,<3.9"

Train (or check) the cached model alone, e.g. niced on a shared machine::

    nice -n 10 .venv/bin/python benchmarks/spacy_peer.py --model export/spacy-brown-upos

``peers.py`` then reuses the cache through :func:`spacy_tagger`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
INSTALL_HINT = 'spaCy is not installed; it is not an rnnx dependency: .venv/bin/pip install "spacy>=3.8,<3.9"'
DEFAULT_MODEL_DIR = Path("export/spacy-brown-upos")
CONFIG_SETTINGS = {"lang": "en", "pipeline": ["tagger"], "optimize": "efficiency", "gpu": False}
STEP_ROW = re.compile(r"^\s*(\d+)\s+(\d+)(?:\s+[-+.\deE]+)+\s*$")


def one_thread(env: dict | None = None) -> dict:
    """Set every BLAS/OpenMP thread count in ``env`` (default ``os.environ``) to 1; returns ``env``.

    >>> one_thread({})["OMP_NUM_THREADS"]
    '1'
    """
    env = os.environ if env is None else env
    for name in THREAD_VARIABLES:
        env[name] = "1"
    return env


def require_spacy():
    """The ``spacy`` module, or exit with the one line that says how to install it."""
    try:
        import spacy
    except ImportError:
        sys.exit(INSTALL_HINT)
    return spacy


# ----------------------------------------------------------------------------- corpora


def to_docbin(vocab, tokens: list[list[str]], tags: list[list[str]]):
    """A ``DocBin`` of pre-tokenised sentences, the gold tag of each token in ``token.tag_``.

    >>> import spacy
    >>> nlp = spacy.blank("en")
    >>> [t.tag_ for t in next(to_docbin(nlp.vocab, [["Go", "."]], [["VERB", "."]]).get_docs(nlp.vocab))]
    ['VERB', '.']
    """
    from spacy.tokens import Doc, DocBin

    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} sentences but {len(tags)} tag lists: give one tag list per sentence")
    out = DocBin(attrs=["ORTH", "TAG"], store_user_data=False)
    for i, (words, labels) in enumerate(zip(tokens, tags)):
        if len(words) != len(labels):
            raise ValueError(f"sentence {i + 1} has {len(words)} tokens but {len(labels)} tags")
        out.add(Doc(vocab, words=list(words), spaces=[True] * len(words), tags=list(labels)))
    return out


def from_docbin(path: Path, vocab) -> tuple[list[list[str]], list[list[str]]]:
    """Tokens and ``tag_`` strings per sentence of a ``.spacy`` file (what :func:`to_docbin` stored).

    >>> import spacy, tempfile
    >>> nlp = spacy.blank("en")
    >>> path = Path(tempfile.mkdtemp()) / "x.spacy"
    >>> to_docbin(nlp.vocab, [["Hi"]], [["X"]]).to_disk(path)
    >>> from_docbin(path, nlp.vocab)
    ([['Hi']], [['X']])
    """
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(path).get_docs(vocab))
    return [[t.text for t in d] for d in docs], [[t.tag_ for t in d] for d in docs]


def write_corpora(splits: dict, folder: Path, names=("train", "dev")) -> dict[str, Path]:
    """Write ``folder/NAME.spacy`` for each split name; returns the paths by name.

    >>> import tempfile, types
    >>> split = types.SimpleNamespace(tokens=[["a"]], labels=[["X"]])
    >>> sorted(p.name for p in write_corpora({"train": split}, Path(tempfile.mkdtemp()), ["train"]).values())
    ['train.spacy']
    """
    spacy = require_spacy()
    vocab = spacy.blank(CONFIG_SETTINGS["lang"]).vocab
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        paths[name] = folder / f"{name}.spacy"
        to_docbin(vocab, splits[name].tokens, splits[name].labels).to_disk(paths[name])
    return paths


def data_fingerprint(*splits) -> str:
    """sha256 (first 16 hex digits) of the tokens and tags of the splits, to tell a stale cache.

    >>> import types
    >>> s = types.SimpleNamespace(tokens=[["a"]], labels=[["X"]])
    >>> data_fingerprint(s) == data_fingerprint(s), len(data_fingerprint(s))
    (True, 16)
    """
    h = hashlib.sha256()
    for split in splits:
        h.update(json.dumps([split.tokens, split.labels], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- config and training


def default_config():
    """spaCy's own ``init config`` for an English CPU tagger optimised for efficiency (a ``Config``)."""
    require_spacy()
    from spacy.cli.init_config import init_config

    return init_config(**CONFIG_SETTINGS, silent=True)


def config_summary(config) -> dict:
    """The settings of a tagger config that decide its accuracy and cost, as plain JSON values.

    >>> cfg = default_config()
    >>> s = config_summary(cfg)
    >>> s["tok2vec_encode"]["@architectures"], s["max_steps"] == cfg["training"]["max_steps"]
    ('spacy.MaxoutWindowEncoder.v2', True)
    """
    config = config.interpolate()
    t2v = config["components"]["tok2vec"]["model"]
    train = config["training"]
    return {"pipeline": list(config["nlp"]["pipeline"]), "tok2vec": t2v["@architectures"],
            "tok2vec_embed": dict(t2v["embed"]), "tok2vec_encode": dict(t2v["encode"]),
            "tagger": config["components"]["tagger"]["model"]["@architectures"],
            "max_steps": train["max_steps"], "max_epochs": train["max_epochs"], "patience": train["patience"],
            "eval_frequency": train["eval_frequency"], "dropout": train["dropout"],
            "learn_rate": train["optimizer"]["learn_rate"], "train_batcher": train["batcher"]["@batchers"],
            "train_batch_size_words": dict(train["batcher"]["size"]), "nlp_batch_size": config["nlp"]["batch_size"]}


def overrides(max_steps: int | None, patience: int | None) -> dict:
    """The ``--training.*`` overrides for the settings given; None keeps spaCy's own value.

    >>> overrides(None, 400)
    {'training.patience': 400}
    """
    given = {"training.max_steps": max_steps, "training.patience": patience}
    return {key: value for key, value in given.items() if value is not None}


def parse_progress(log: str) -> list[dict]:
    """The evaluation rows of a ``spacy train`` console log: epoch, step and the printed cells.

    >>> parse_progress("E  #  LOSS  SCORE\\n  0    0  0.00  73.67  13.61  0.14\\n  1  200  9.1  0.9  90.2  0.90")[1]
    {'epoch': 1, 'step': 200, 'cells': ['9.1', '0.9', '90.2', '0.90']}
    """
    rows = []
    for line in log.splitlines():
        if STEP_ROW.match(line):
            fields = line.split()
            rows.append({"epoch": int(fields[0]), "step": int(fields[1]), "cells": fields[2:]})
    return rows


def best_row(rows: list[dict], performance: dict) -> dict | None:
    """The row of the checkpoint saved as model-best: its printed tagger loss and tag accuracy match meta.json.

    (The printed SCORE has two decimals only, too few to find the best of many close evaluations.)

    >>> rows = [{"step": 0, "cells": ["0.00", "73.67", "13.61", "0.14"]}, {"step": 200, "cells": ["1.00", "9.50", "98.02"]}]
    >>> best_row(rows, {"tagger_loss": 9.4999, "tag_acc": 0.980249})["step"]
    200
    """
    wanted = {f"{performance['tagger_loss']:.2f}", f"{100 * performance['tag_acc']:.2f}"}
    found = [r for r in rows if wanted <= set(r["cells"])]
    return found[0] if found else None


def stop_step(last_eval: int, config: dict) -> int | None:
    """The step at which ``spacy train`` stopped, known from the log when every stop falls on an evaluation.

    spaCy stops after step ``s`` once ``s - best_step >= patience`` (best_step: an evaluated step)
    or ``s >= max_steps``; with both multiples of ``eval_frequency`` (and no epoch limit) that
    step is the last one evaluated. Otherwise None: it lies within ``eval_frequency`` steps after it.

    >>> stop_step(8600, {"eval_frequency": 200, "max_steps": 20000, "patience": 1600, "max_epochs": 0})
    8600
    >>> stop_step(800, {"eval_frequency": 200, "max_steps": 900, "patience": 1600, "max_epochs": 0}) is None
    True
    """
    every = config["eval_frequency"]
    if config["max_epochs"] or config["max_steps"] % every or config["patience"] % every:
        return None
    return last_eval


def run_spacy_train(config_path: Path, output: Path, corpora: dict[str, Path], log_path: Path,
                    settings: dict) -> float:
    """Run ``python -m spacy train`` on CPU with one thread, its output going to ``log_path``; wall seconds."""
    command = [sys.executable, "-m", "spacy", "train", str(config_path), "--output", str(output),
               "--paths.train", str(corpora["train"]), "--paths.dev", str(corpora["dev"]), "--gpu-id", "-1"]
    for key, value in settings.items():
        command += [f"--{key}", str(value)]
    env = one_thread(dict(os.environ, PYTHONUNBUFFERED="1", WASABI_LOG_FRIENDLY="1"))
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        done = subprocess.run(command, check=False, stdout=log, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"spacy train failed (exit {done.returncode}); read {log_path} for why, then run again")
    return seconds


def train_model(folder: Path, train, dev, *, max_steps: int | None = None, patience: int | None = None) -> dict:
    """Train spaCy's default CPU tagger on ``train`` (``dev`` picks model-best) into ``folder``.

    Writes ``config.cfg``, ``corpus/{train,dev}.spacy``, ``train.log``, the model under
    ``training/model-best`` and, last, ``training.json`` (what :func:`load_cached` reads).
    """
    spacy = require_spacy()
    folder.mkdir(parents=True, exist_ok=True)
    config = default_config()
    config.to_disk(folder / "config.cfg")
    corpora = write_corpora({"train": train, "dev": dev}, folder / "corpus")
    settings = overrides(max_steps, patience)
    log_path = folder / "train.log"
    seconds = run_spacy_train(folder / "config.cfg", folder / "training", corpora, log_path, settings)
    used = config_summary(config.merge(_dotted(settings)) if settings else config)
    info = {"spacy": spacy.__version__, "config": used, "max_steps_option": max_steps, "patience_option": patience,
            "train_seconds": seconds, **training_outcome(folder, used),
            "train_sentences": len(train.tokens), "train_tokens": sum(map(len, train.tokens)),
            "dev_sentences": len(dev.tokens), "data_sha256": data_fingerprint(train, dev),
            "model_dir": str(folder / "training" / "model-best"), "threads": 1, "device": "cpu"}
    (folder / "training.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def training_outcome(folder: Path, used: dict) -> dict:
    """Where a finished training in ``folder`` stopped and which evaluation became model-best (its dev score)."""
    rows = parse_progress((folder / "train.log").read_text(encoding="utf-8"))
    meta = json.loads((folder / "training" / "model-best" / "meta.json").read_text(encoding="utf-8"))
    best = best_row(rows, meta["performance"])
    last = rows[-1]["step"] if rows else None
    return {"stopped_at_step": stop_step(last, used) if rows else None, "last_eval_step": last,
            "evaluations": len(rows), "best_step": best and best["step"],
            "best_dev_tag_acc": meta["performance"]["tag_acc"]}


def _dotted(settings: dict) -> dict:
    """``{"training.patience": 5}`` -> ``{"training": {"patience": 5}}`` for ``Config.merge``.

    >>> _dotted({"training.patience": 5})
    {'training': {'patience': 5}}
    """
    nested: dict = {}
    for key, value in settings.items():
        section, name = key.split(".", 1)
        nested.setdefault(section, {})[name] = value
    return nested


def load_cached(folder: Path, train, dev, *, max_steps: int | None = None, patience: int | None = None):
    """The ``training.json`` of a finished training in ``folder`` for these data and settings, or None.

    Exits, saying what to do, when the folder holds a model trained on other data or settings.
    """
    path = folder / "training.json"
    if not path.is_file() or not (folder / "training" / "model-best").is_dir():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    wanted = {"max_steps_option": max_steps, "patience_option": patience, "data_sha256": data_fingerprint(train, dev)}
    stale = {k: (info.get(k), v) for k, v in wanted.items() if info.get(k) != v}
    if stale:
        sys.exit(f"{folder} holds a spaCy model trained with other data or settings ({stale}: cached, wanted); "
                 f"delete that folder to retrain, or pass another --spacy-model folder")
    return info


def trained_model(folder: Path, train, dev, *, max_steps: int | None = None, patience: int | None = None):
    """``(training info, trained_now)``: the cached model in ``folder``, trained first if missing."""
    info = load_cached(folder, train, dev, max_steps=max_steps, patience=patience)
    if info is not None:
        return info, False
    print(f"training spaCy's default CPU tagger on {info_line(train)} into {folder} "
          f"(log: {folder / 'train.log'}); this takes a while ...", flush=True)
    return train_model(folder, train, dev, max_steps=max_steps, patience=patience), True


def info_line(split) -> str:
    """``'N sentences, M tokens'`` of a split.

    >>> import types
    >>> info_line(types.SimpleNamespace(tokens=[["a", "b"], ["c"]]))
    '2 sentences, 3 tokens'
    """
    return f"{len(split.tokens):,} sentences, {sum(map(len, split.tokens)):,} tokens"


# ----------------------------------------------------------------------------- tagging


def load_tagger(model_dir: Path):
    """Load a trained pipeline folder (``model-best``) with spaCy."""
    spacy = require_spacy()
    return spacy.load(model_dir)


def tag_sentences(nlp, sentences: list[list[str]], batch_size: int | None = None) -> list[list[str]]:
    """Predicted ``tag_`` per token of pre-tokenised sentences; building the Docs is part of the call.

    ``batch_size`` None is spaCy's own default for ``nlp.pipe`` (the pipeline's ``nlp.batch_size``).

    >>> import spacy
    >>> tag_sentences(spacy.blank("en"), [["no", "tagger"]])
    [['', '']]
    """
    from spacy.tokens import Doc

    vocab = nlp.vocab
    docs = (Doc(vocab, words=words) for words in sentences)
    return [[t.tag_ for t in doc] for doc in nlp.pipe(docs, batch_size=batch_size)]


def spacy_tagger(train, dev, args):
    """``(predict, info)`` for peers.py: ``predict(list of token lists) -> list of tag lists``.

    ``args`` needs ``spacy_model`` (cache folder), ``spacy_batch_size`` (None: spaCy's own),
    ``spacy_max_steps`` and ``spacy_patience`` (None: spaCy's own).
    """
    one_thread()  # before spaCy (and thinc's ops) are imported
    require_spacy()
    folder = Path(args.spacy_model)
    info, trained_now = trained_model(folder, train, dev, max_steps=args.spacy_max_steps,
                                      patience=args.spacy_patience)
    nlp = load_tagger(folder / "training" / "model-best")
    batch_size = args.spacy_batch_size or nlp.batch_size

    def predict(sentences):
        return tag_sentences(nlp, sentences, batch_size)

    extra = {**info, "trained_now": trained_now, "pipe_batch_size": batch_size,
             "pipe_batch_size_default": nlp.batch_size}
    return predict, extra


# ----------------------------------------------------------------------------- command line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Train (or find cached) spaCy's default CPU tagger on brown-upos for benchmarks/peers.py.",
        epilog="example:\n  nice -n 10 .venv/bin/python benchmarks/spacy_peer.py --model export/spacy-brown-upos",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="cache folder (default %(default)s)")
    parser.add_argument("--max-steps", type=int, default=None, help="training.max_steps (default: spaCy's own)")
    parser.add_argument("--patience", type=int, default=None, help="training.patience (default: spaCy's own)")
    args = parser.parse_args(argv)
    one_thread()
    require_spacy()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pipeline.data.datasets import load_dataset

    splits = load_dataset("brown-upos")
    info, trained_now = trained_model(args.model, splits["train"], splits["dev"], max_steps=args.max_steps,
                                      patience=args.patience)
    print(json.dumps({**info, "trained_now": trained_now}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
