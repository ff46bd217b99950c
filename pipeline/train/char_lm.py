"""``rnnx pretrain-lm``: train a forward and a backward character language model with ``model.fit``.

The text is the **training** split of built-in corpora (``brown-upos``, ``mr``...)
and any plain UTF-8 text files (one text per line; every 20th line is held out).
Dev splits are the held-out text that early stopping and bits per character
are measured on; test splits are never read. Every sentence is read as
:func:`pipeline.data.lm_text.sentence_text` gives it: tokens joined by spaces.

A run is written like a tagger's (``saved_models/NAME/``, atomically, resumable
with ``resume=True``): ``model.keras`` (the LM), ``lm_chars.json``, ``config.json``
(``"kind": "char-lm"``), ``metrics.json`` (bits per character of both directions
on the held-out text), ``history.csv/json`` and ``training_curve.png``.

>>> spec = LMSpec("lm", ["brown-upos"], LMOptions(units=64))
>>> spec.options.units, spec.options.epochs
(64, 5)
"""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipeline.artifacts import check_name, read_json, target_lock, write_json
from pipeline.data.lm_text import LMChars, sentence_text
from pipeline.errors import ConfigError, RnnxError
from pipeline.train.lm_run import KIND, LM_CHARS_FILE

HOLDOUT_EVERY = 20  # plain text files: every 20th line is held out


@dataclass
class LMOptions:
    units: int = 256
    char_dim: int = 32
    dropout: float = 0.1
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 2e-3
    patience: int = 1
    seed: int = 0
    min_char_freq: int = 2
    train_limit: int | None = None  # the first N training texts of each source (tests, quick runs)
    verbose: int = 1

    def __post_init__(self) -> None:
        for what, n in (("--units", self.units), ("--char-dim", self.char_dim), ("--epochs", self.epochs),
                        ("--batch-size", self.batch_size)):
            if int(n) < 1:
                raise ConfigError(f"{what} must be >= 1, got {n}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not self.learning_rate > 0:
            raise ConfigError(f"--lr must be > 0, got {self.learning_rate}")


@dataclass
class LMSpec:
    name: str
    data: list[str]  # built-in dataset names and/or plain text files
    options: LMOptions = field(default_factory=LMOptions)


@dataclass
class LMText:
    train: list[str]
    heldout: list[str]
    sources: list[dict]


def read_texts(data: list[str], limit: int | None = None) -> LMText:
    """The training and held-out texts of ``data`` (see the module docstring)."""
    from pipeline.data.sources import is_builtin

    if not data:
        raise ConfigError("--data: name at least one built-in corpus or plain text file")
    train, heldout, sources = [], [], []
    for item in data:
        if is_builtin(item):
            from pipeline.data.datasets import DATASETS, load_dataset

            if DATASETS[item].evaluation_only:
                raise ConfigError(f"--data {item} is an evaluation-only corpus (no training split); a language "
                                  "model trains only on training text")
            splits = load_dataset(item)
            tr = [sentence_text(t) for t in splits["train"].tokens]
            ho = [sentence_text(t) for t in splits["dev"].tokens] if "dev" in splits else []
            where = {"data": item, "train": f"{item}:train", "heldout": f"{item}:dev",
                     "source": DATASETS[item].source}
        else:
            tr, ho = _plain_text(item)
            where = {"data": item, "train": f"{item} (all lines but every {HOLDOUT_EVERY}th)",
                     "heldout": f"{item} (every {HOLDOUT_EVERY}th line)"}
        tr = tr[:limit] if limit else tr
        ho = ho[: max(1, limit // 4)] if limit else ho
        sources.append({**where, "train_texts": len(tr), "train_chars": sum(map(len, tr)),
                        "heldout_texts": len(ho), "heldout_chars": sum(map(len, ho))})
        train += tr
        heldout += ho
    if not heldout:
        raise ConfigError("--data: no held-out text to measure the LM on; add a built-in corpus or a text file of "
                          f"at least {HOLDOUT_EVERY} lines")
    return LMText(train, heldout, sources)


def _plain_text(path: str) -> tuple[list[str], list[str]]:
    from pipeline.data.tokenize import tokenize

    p = Path(path)
    if not p.is_file():
        from pipeline.data.datasets import DATASETS

        raise ConfigError(f"--data {path!r} is neither a built-in corpus ({', '.join(DATASETS)}) nor a file")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: byte {e.start} is not UTF-8; pretrain-lm reads plain UTF-8 text") from None
    texts = [sentence_text(toks) for toks in (tokenize(line) for line in lines) if toks]
    train = [t for i, t in enumerate(texts) if i % HOLDOUT_EVERY != HOLDOUT_EVERY - 1]
    held = [t for i, t in enumerate(texts) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1]
    if not train:
        raise ConfigError(f"{path}: no text in it")
    return train, held


class _Batches:
    """Length-bucketed ``(chars, (next, prev))`` batches of encoded texts, re-bucketed every epoch."""

    def __init__(self, ids: list[list[int]], batch_size: int, shuffle: bool, seed: int):
        from pipeline.data.batching import bucket_batches

        self.ids, self.batch_size, self.shuffle, self.seed = ids, batch_size, shuffle, seed
        self.lengths = [len(s) for s in ids]
        self.steps = len(bucket_batches(self.lengths, batch_size, shuffle=False))

    def epoch(self, n: int):
        from pipeline.data.batching import bucket_batches, pad
        from pipeline.models.char_lm import lm_targets

        for idx in bucket_batches(self.lengths, self.batch_size, shuffle=self.shuffle, seed=self.seed + n):
            x = pad([self.ids[int(i)] for i in idx])
            yield x, lm_targets(x)

    def dataset(self):
        import tensorflow as tf

        counter = [0]

        def gen():
            counter[0] += 1
            yield from self.epoch(counter[0])

        spec = tf.TensorSpec((None, None), tf.int64)
        ds = tf.data.Dataset.from_generator(gen, output_signature=(spec, (spec, spec)))
        if self.shuffle:
            ds = ds.repeat()
        else:
            ds = ds.apply(tf.data.experimental.assert_cardinality(self.steps))
        return ds.prefetch(2)


def bits_per_char(model, batches: _Batches) -> dict:
    """Bits per predicted character of both directions over ``batches`` (0 targets are not counted)."""
    import tensorflow as tf

    run = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    totals = {"next": [0.0, 0], "prev": [0.0, 0]}
    for x, (nxt, prev) in batches.epoch(0):
        outs = run(tf.constant(x))
        for name, logits, target in (("next", outs[0], nxt), ("prev", outs[1], prev)):
            logp = tf.nn.log_softmax(logits).numpy()
            keep = target != 0
            picked = np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
            totals[name][0] -= float(picked[keep].sum())
            totals[name][1] += int(keep.sum())
    out = {f"bpc_{'forward' if k == 'next' else 'backward'}": round(s / max(n, 1) / math.log(2), 4)
           for k, (s, n) in totals.items()}
    out["characters"] = totals["next"][1]
    out["bpc_mean"] = round((out["bpc_forward"] + out["bpc_backward"]) / 2, 4)
    return out


def pretrain(spec: LMSpec, *, root: Path | str = "saved_models", force: bool = False, resume: bool = False) -> Path:
    """Train ``spec`` and return the finished ``root/NAME`` (see the module docstring)."""
    from pipeline.artifacts import replace_dir
    from pipeline.train.fit import _has_progress, _prepare_folder
    from pipeline.train.rundir import RunFiles

    check_name(spec.name)
    root = Path(root)
    text = read_texts(spec.data, spec.options.train_limit)
    with target_lock(root / spec.name):
        final, staging, resuming, created = _prepare_folder(spec, root, force, resume, started=LM_CHARS_FILE)
        files = RunFiles(staging)
        try:
            _pretrain_in(spec, text, files, resuming)
        except BaseException:
            if created and not _has_progress(files):
                shutil.rmtree(staging, ignore_errors=True)
            raise
        replace_dir(staging, final, kind="run", force=True)
    return final


def _config(spec: LMSpec, text: LMText, chars: LMChars) -> dict:
    from pipeline.train.fit import data_fingerprints

    fingerprints = [data_fingerprints(_Named(d))["data"] for d in spec.data]
    opts = asdict(spec.options)
    model = {k: opts.pop(k) for k in ("units", "char_dim", "dropout")}
    return {"kind": KIND, "name": spec.name, "data": ",".join(spec.data), "dev": None, "test": None,
            "data_format": None, "column": None,
            "data_sha256": {"data": "|".join(str(f) for f in fingerprints), "dev": None, "test": None},
            "model": {**model, "num_chars": chars.size}, "options": opts, "sources": text.sources}


@dataclass
class _Named:
    data: str
    dev: None = None
    test: None = None


def _pretrain_in(spec: LMSpec, text: LMText, files, resuming: bool) -> None:
    from pipeline.data.fetch import sha256_file
    from pipeline.keras_env import device_summary, import_keras
    from pipeline.models.char_lm import LMShape, build_lm
    from pipeline.train.fit import TrainOptions, _callbacks, _check_resume, _EpochTimer, _read_history, _versions
    from pipeline.train.plots import plot_history

    opts = spec.options
    lm_file = files.root / LM_CHARS_FILE
    chars = LMChars.build(text.train, min_freq=opts.min_char_freq)
    config = _config(spec, text, chars)
    if resuming:
        _check_resume(files.root, config)
        chars = LMChars.from_json(read_json(lm_file))
    else:
        write_json(lm_file, chars.to_json())
    keras = import_keras()
    keras.utils.set_random_seed(opts.seed)
    shape = LMShape(chars.size, opts.char_dim, opts.units, opts.dropout)
    config.update({"versions": _versions(keras), "device": device_summary(),
                   "files_sha256": {LM_CHARS_FILE: sha256_file(lm_file)}})
    write_json(files.config, config)
    model = build_lm(shape)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=opts.learning_rate, clipnorm=5.0),
                  loss=[loss, loss])
    train = _Batches([chars.encode_text(t) for t in text.train], opts.batch_size, True, opts.seed)
    held = _Batches([chars.encode_text(t) for t in text.heldout], 64, False, 0)
    if opts.verbose:
        n = sum(s["train_chars"] for s in text.sources)
        print(f"rnnx pretrain-lm: character LM, 2 x LSTM {opts.units} units, {chars.size} characters, "
              f"{len(text.train):,} texts / {n:,} characters of training text, {model.count_params():,} "
              f"parameters, {device_summary()}")
    timer = _EpochTimer(files, resuming)
    fit_opts = TrainOptions(epochs=opts.epochs, patience=opts.patience)
    model.fit(train.dataset(), validation_data=held.dataset(), epochs=opts.epochs, steps_per_epoch=train.steps,
              callbacks=[timer.callback(keras)] + _callbacks(keras, files, fit_opts, resuming), shuffle=False,
              verbose=opts.verbose)
    seconds = timer.total()
    history = _read_history(files.history_csv) if files.history_csv.exists() else {}
    if not history.get("loss") or not all(np.isfinite(v) for v in history["loss"]):
        raise RnnxError(f"pretrain-lm: the loss is not finite; lower --lr (now {opts.learning_rate}) and try again")
    if files.best.exists():
        from pipeline.models import load_model

        model = load_model(files.best)
    model.save(files.model)
    shutil.rmtree(files.best.parent, ignore_errors=True)
    write_json(files.history_json, history)
    plot_history({k: v for k, v in history.items() if k in ("loss", "val_loss")}, files.curve,
                 title=f"{spec.name}: character LM ({opts.units} units per direction)")
    metrics = {"train_seconds": round(seconds, 1), "epochs_run": len(history["loss"]),
               "heldout": bits_per_char(model, held),
               "train_characters": sum(s["train_chars"] for s in text.sources)}
    write_json(files.metrics, metrics)
