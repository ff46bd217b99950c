"""Train a tagger or classifier with ``model.fit`` and write ``saved_models/NAME/``.

What a run does, in order:

1. refuse to overwrite ``saved_models/NAME`` unless ``force`` (and only an rnnx
   run, marked by ``.rnnx-run``); continue ``saved_models/NAME.partial`` when
   ``resume`` and it was started with the same data and settings (Keras
   ``BackupAndRestore``); a failure before the first epoch leaves nothing behind;
2. build the vocabulary (``min_freq``, ``lowercase``) and the label set from the
   training split;
3. ``model.fit`` (under ``--strategy multiworker``:
   :func:`pipeline.train.loop.fit_distributed`) on length-bucketed, right-padded batches with validation, early
   stopping, a best-model checkpoint, CSV history, TensorBoard logs and NaN
   termination (seeded);
4. evaluate the best model on dev and test, plot curves, and move the finished
   folder into place.

>>> opts = TrainOptions(epochs=3, batch_size=16)
>>> opts.learning_rate
0.002
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from pipeline.artifacts import (MARKERS, check_name, check_target, is_owned, remove_owned, replace_dir, target_lock,
                                write_json, write_marker)
from pipeline.data.chars import CharVocab
from pipeline.data.corpus import Split
from pipeline.data.features import Encoder
from pipeline.data.vocab import Labels, Vocabulary
from pipeline.errors import ConfigError, RnnxError
from pipeline.models.config import ModelConfig
from pipeline.train.rundir import RunFiles


MIXED_PRECISIONS = ("float16", "bfloat16")  # Keras mixed-precision policies training accepts


@dataclass
class TrainOptions:
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 2e-3
    patience: int = 2
    seed: int = 0
    lowercase: bool = True
    min_freq: int = 1
    max_vocab: int | None = None
    train_limit: int | None = None  # train on the first N sequences (tests, quick runs)
    mixed_precision: str | None = None  # None, "float16" or "bfloat16"
    bucketing: bool = True  # length-bucketed batches (False: random batches, more padding)
    steps_per_epoch: int | None = None  # default: one pass over the training data
    strategy: str = "default"  # see pipeline.train.distribute
    logical_cpus: int | None = None  # split the CPU into N devices (try strategies without GPUs)
    verbose: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not self.learning_rate > 0:
            raise ConfigError(f"--lr must be > 0, got {self.learning_rate}")
        if self.mixed_precision not in (None, *MIXED_PRECISIONS):
            raise ConfigError(f"--mixed-precision must be float16 or bfloat16, got {self.mixed_precision!r}")


@dataclass
class RunSpec:
    name: str
    data: str  # built-in dataset name or a file path
    model: ModelConfig
    options: TrainOptions = field(default_factory=TrainOptions)
    data_format: str | None = None
    column: str = "upos"
    dev: str | None = None
    test: str | None = None


def run_spec(name: str, data: str, *, data_format: str | None = None, column: str = "upos", dev: str | None = None,
             test: str | None = None, **settings) -> RunSpec:
    """The one way rnnx assembles a :class:`RunSpec`: flat ``settings`` sorted into the model and the options.

    Every key of ``settings`` is a :class:`~pipeline.models.config.ModelConfig` field
    (``task``, ``cell``, ``units``...) or a :class:`TrainOptions` field (``epochs``,
    ``learning_rate``...); unset ones keep their defaults.

    >>> spec = run_spec("pos", "brown-upos", task="tagging", cell="gru", epochs=3)
    >>> spec.model.cell, spec.options.epochs, spec.options.batch_size
    ('gru', 3, 32)
    >>> run_spec("pos", "brown-upos", task="tagging", epoch=3)
    Traceback (most recent call last):
    ...
    pipeline.errors.ConfigError: unknown run setting(s) epoch; use ModelConfig or TrainOptions field names
    """
    model_keys = {f.name for f in fields(ModelConfig)}
    option_keys = {f.name for f in fields(TrainOptions)}
    unknown = sorted(set(settings) - model_keys - option_keys)
    if unknown:
        raise ConfigError(f"unknown run setting(s) {', '.join(unknown)}; use ModelConfig or TrainOptions field names")
    return RunSpec(
        name=name, data=data, data_format=data_format, column=column, dev=dev, test=test,
        model=ModelConfig(**{k: v for k, v in settings.items() if k in model_keys}),
        options=TrainOptions(**{k: v for k, v in settings.items() if k in option_keys}),
    )


def _prepare_folder(spec: RunSpec, root: Path, force: bool, resume: bool,
                    started: str = "vocab.json") -> tuple[Path, Path, bool, bool]:
    """``(final, staging, resuming, created)``: where the run goes, where it is written, whether an interrupted
    run is continued, and whether ``staging`` was made now (it is removed again if training fails before any
    progress was saved).

    Only folders that carry rnnx's ``.rnnx-run`` marker are ever replaced or deleted.
    """
    final = root / spec.name
    staging = root / f"{spec.name}.partial"
    if final.exists() and resume and not staging.exists():
        raise ConfigError(f"{final} is a finished run; nothing to resume (pass --force to train it again)")
    if final.exists():  # replaced at the end: only with --force (or when resuming the run that replaces it)
        check_target(final, "run", force or resume)
    resuming = False
    if staging.exists():
        if not is_owned(staging, "run"):
            raise ConfigError(f"{staging} exists and is not an rnnx run (no {MARKERS['run']} marker); rnnx does not "
                              "write into or delete folders it did not make. Move it away or choose another --name")
        if resume:
            resuming = (staging / started).exists()  # written first: the run got past its set-up
        elif force:
            remove_owned(staging, "run")
        else:
            raise ConfigError(
                f"{staging} holds an interrupted run; pass --resume to continue it (with the same options) or "
                "--force to start over"
            )
    created = not staging.exists()
    staging.mkdir(parents=True, exist_ok=True)
    if created:
        write_marker(staging, "run", name=spec.name)
    return final, staging, resuming, created


#: options that may change when an interrupted run is resumed; everything else must match
RESUMABLE_CHANGES = ("epochs", "patience", "verbose")


def data_fingerprints(spec: RunSpec) -> dict[str, str | None]:
    """What ``--data``/``--dev``/``--test`` held: a file's sha256, a streamed corpus's file names and sizes,
    a built-in dataset's archive checksum. A resumed run must be fed the same."""
    import hashlib

    from pipeline.data.fetch import sha256_file
    from pipeline.data.sources import is_builtin
    from pipeline.data.stream import corpus_files

    def one(value):
        if value is None:
            return None
        if is_builtin(value):
            from pipeline.data.datasets import DATASETS

            return f"{value}:{DATASETS[value].archive_sha256}"
        files = corpus_files(value)
        if files:
            listing = "\n".join(f"{p.name}\t{p.stat().st_size}" for p in files)
            return "files:" + hashlib.sha256(listing.encode("utf-8")).hexdigest()
        path = Path(value)
        return sha256_file(path) if path.is_file() else None

    return {"data": one(spec.data), "dev": one(spec.dev), "test": one(spec.test)}


def _resume_differences(old: dict, new: dict) -> list[str]:
    """What differs between the config an interrupted run was started with and the new one."""
    out = []
    for key, flag in (("data", "--data"), ("dev", "--dev"), ("test", "--test")):
        was, now = (old.get("data_sha256") or {}).get(key), new["data_sha256"].get(key)
        if "data_sha256" not in old:  # a run from before fingerprints: compare the names
            was, now = old.get(key), new.get(key)
        if was != now:
            out.append(f"{flag} {new.get(key) or '(none)'} is not the data it was started on "
                       f"({old.get(key) or '(none)'}{', since changed' if old.get(key) == new.get(key) else ''})")
    for key in ("data_format", "column"):
        if old.get(key) != new.get(key):
            out.append(f"{key} {new.get(key)!r} (was {old.get(key)!r})")
    derived = ("vocab_size", "num_labels", "num_chars")
    old_model = {k: v for k, v in (old.get("model") or {}).items() if k not in derived}
    new_model = {k: v for k, v in new["model"].items() if k not in derived}
    for key in sorted(set(old_model) | set(new_model)):
        if old_model.get(key) != new_model.get(key):
            out.append(f"--{key.replace('_', '-')} {new_model.get(key)!r} (was {old_model.get(key)!r})")
    was_lm, now_lm = ((cfg.get("lm") or {}).get("model_sha256") for cfg in (old, new))
    if was_lm != now_lm and old_model.get("lm") == new_model.get("lm"):
        out.append(f"--lm {new_model.get('lm')}: the character LM was retrained or replaced since this run was "
                   "started (its model.keras differs)")
    old_opts, new_opts = old.get("options") or {}, new["options"]
    for key in sorted(set(old_opts) | set(new_opts)):
        if key not in RESUMABLE_CHANGES and old_opts.get(key) != new_opts.get(key):
            out.append(f"{key} {new_opts.get(key)!r} (was {old_opts.get(key)!r})")
    return out


def _check_resume(staging: Path, config: dict) -> None:
    """``--resume`` continues only the same run: same data, model and training options (epochs and patience
    may change); a :class:`ConfigError` naming every difference otherwise."""
    from pipeline.artifacts import read_json

    path = staging / "config.json"
    if not path.exists():
        raise ConfigError(f"{staging} has no config.json: what it was started with is unknown, so it cannot be "
                          "resumed safely; pass --force to start over")
    diffs = _resume_differences(read_json(path), config)
    if diffs:
        raise ConfigError(f"--resume: {staging} was started with other settings: {'; '.join(diffs)}. Resume it "
                          "with the options it was started with, or pass --force to start over")


def _has_progress(files: RunFiles) -> bool:
    """Whether an interrupted run in ``files`` has anything to resume from (a finished epoch)."""
    if files.backup.is_dir() and any(files.backup.iterdir()):
        return True
    return files.history_csv.exists() and bool(_read_history(files.history_csv).get("loss"))


def _callbacks(keras, files: RunFiles, opts: TrainOptions, resuming: bool):
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(files.best), monitor="val_loss", save_best_only=True, verbose=0
    )
    if resuming and files.history_csv.exists():
        # keep the best validation loss of the epochs before the interruption
        with files.history_csv.open() as fh:
            losses = [float(r["val_loss"]) for r in csv.DictReader(fh) if r.get("val_loss")]
        if losses:
            checkpoint.best = min(losses)
    return [
        keras.callbacks.BackupAndRestore(str(files.backup)),
        checkpoint,
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=opts.patience, restore_best_weights=True),
        keras.callbacks.CSVLogger(str(files.history_csv), append=resuming),
        keras.callbacks.TerminateOnNaN(),
    ] + _tensorboard(keras, files)


def _tensorboard(keras, files: RunFiles) -> list:
    """TensorBoard logs; they are written with TensorFlow, so only where it is installed."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(files.logs), write_graph=False)]


def _read_history(path: Path) -> dict[str, list[float]]:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    keys = [k for k in (rows[0].keys() if rows else []) if k != "epoch"]
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in keys}


def train(spec: RunSpec, *, root: Path | str = "saved_models", force: bool = False, resume: bool = False) -> Path:
    """Train ``spec`` and return the finished run folder.

    ``root/NAME`` is written only when new, or an rnnx run replaced with ``force``;
    one process at a time writes it. ``resume`` continues ``root/NAME.partial``
    only when it was started with the same data and settings.
    """
    from pipeline.keras_env import import_keras
    from pipeline.train.inputs import training_data

    check_name(spec.name)
    opts = spec.options
    root = Path(root)
    data = training_data(spec)
    if data.task != spec.model.task:
        raise ConfigError(f"--data {spec.data} holds {data.task} data but --task is {spec.model.task}")
    vocab, labels = data.vocabularies(opts)
    if labels.size < 2:
        what = "class" if data.task == "classification" else "tag"
        raise ConfigError(f"--data {spec.data}: the training data has only one {what} ({', '.join(labels.names)}); "
                          f"a model needs at least two {what}{'es' if what == 'class' else 's'} to learn anything")

    keras = import_keras()
    from pipeline.train.distribute import make_distribution

    dist = make_distribution(opts.strategy, opts.logical_cpus)
    if not dist.chief:  # multi-worker: only the chief keeps a run; the others write into a temporary folder
        root = _worker_root()
    with target_lock(root / spec.name):
        final, staging, resuming, created = _prepare_folder(spec, root, force, resume)
        files = RunFiles(staging)
        try:
            _train_in(spec, data, vocab, labels, keras, dist, files, resuming)
        except BaseException:
            if created and not _has_progress(files):
                shutil.rmtree(staging, ignore_errors=True)  # nothing to resume: leave nothing behind
            raise
        if not dist.chief:
            return files.root
        replace_dir(staging, final, kind="run", force=True)  # --force (or --resume) was checked above
    return final


def _train_in(spec: RunSpec, data, vocab: Vocabulary, labels: Labels, keras, dist, files: RunFiles,
              resuming: bool) -> None:
    """Everything a run writes, into its staging folder ``files``."""
    from pipeline.artifacts import read_json
    from pipeline.data.fetch import sha256_file
    from pipeline.keras_env import device_summary
    from pipeline.train.inputs import encode_targets, make_dataset

    opts = spec.options
    staging = files.root
    splits = data.splits
    if resuming and dist.name != "multiworker" and (files.backup / "loop_state.npz").exists():
        raise ConfigError(f"{staging} was started with --strategy multiworker; resume it with the same strategy "
                          "(and TF_CONFIG), or pass --force to start over")
    if spec.model.chars or spec.model.crf or spec.model.lm:
        _check_supported(spec, data, dist)
    chars = CharVocab.build(data.train.tokens) if spec.model.chars else None
    lm = None
    if spec.model.lm:
        from pipeline.train.lm_run import load_lm

        lm = load_lm(spec.model.lm, staging.parent)
    lm_sizes = {"lm_units": lm.shape.units, "lm_char_dim": lm.shape.char_dim,
                "lm_num_chars": lm.shape.num_chars} if lm else {}
    cfg = ModelConfig.from_json({**spec.model.to_json(), "vocab_size": vocab.size, "num_labels": labels.size,
                                 "num_chars": chars.size if chars else 0, **lm_sizes})
    config = {
        "name": spec.name,
        "data": spec.data,
        "data_format": spec.data_format,
        "column": spec.column,
        "dev": spec.dev,
        "test": spec.test,
        "data_sha256": data_fingerprints(spec),
        "model": cfg.to_json(),
        "options": asdict(opts),
    }
    if lm:
        config["lm"] = {"run": str(lm.path), "model_sha256": sha256_file(lm.path / "model.keras"),
                        "heldout": lm.metrics.get("heldout"), "sources": lm.config.get("sources")}
    if resuming:
        _check_resume(staging, config)
        saved = Vocabulary.from_json(read_json(files.vocab)), Labels.from_json(read_json(files.labels))
        if saved[0].sha256() != vocab.sha256() or saved[1].names != labels.names:
            raise ConfigError(f"--resume: the vocabulary or labels built from --data {spec.data} differ from those "
                              f"{staging} was started with; resume with the same data, or pass --force")
        if chars is not None:
            chars = CharVocab.from_json(read_json(files.chars))
    else:
        write_json(files.vocab, vocab.to_json())
        write_json(files.labels, labels.to_json())
        if chars is not None:
            write_json(files.chars, chars.to_json())
        if lm is not None:
            write_json(files.lm_chars, lm.chars.to_json())
    encoder = Encoder(vocab, chars, lm.chars if lm else None)
    train_encoder = _training_encoder(encoder, lm, cfg, data, opts)  # float32 LM features, before the policy
    keras.utils.set_random_seed(opts.seed)
    if opts.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{opts.mixed_precision}")

    dev_split = _known_labels_only(splits["dev"], labels)
    config.update({
        "sizes": {"train": data.size(), **{k: {"sequences": len(v), "tokens": v.num_tokens}
                                           for k, v in splits.items() if k != "train"}},
        "versions": _versions(keras),
        "device": device_summary(),
        "strategy": {"name": dist.name, "replicas": dist.replicas},
        # the files the model reads through, bound to it: load_run refuses a file swapped in from another run
        "files_sha256": {p.name: sha256_file(p) for p in (files.vocab, files.labels, files.chars, files.lm_chars)
                          if p.exists()},
    })
    write_json(files.config, config)

    from pipeline.models.builders import build_model

    guard = _cluster_errors(dist)
    with guard, dist.strategy.scope():
        model = build_model(cfg, lm_features_in=train_encoder is not encoder)
        if lm is not None and train_encoder is encoder:  # on --resume, BackupAndRestore then restores the rest
            from pipeline.models.char_lm import copy_lm_weights

            copy_lm_weights(model, lm.model)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=opts.learning_rate, clipnorm=5.0),
            loss=None if cfg.crf else "sparse_categorical_crossentropy",  # a CRFTagger computes its own loss
            metrics=["accuracy"],
        )
    train_ds, steps = data.dataset(train_encoder, labels, opts)
    dev_ds, _ = make_dataset(train_encoder.encode_all(dev_split.tokens), encode_targets(dev_split, labels), cfg.task,
                             64, shuffle=False, seed=0)
    cache = train_encoder.summary(cfg.lm_units) if train_encoder is not encoder else None
    if cache and opts.verbose:
        print(f"rnnx train: the frozen LM's features of {cache['tokens']:,} train and dev tokens computed once in "
              f"{cache['seconds']:.0f} s ({cache['bytes'] / 2**20:,.0f} MiB), not in every epoch")
    if opts.verbose:
        print(f"rnnx train: {cfg.describe()} on {spec.data} ({data.size()['sequences']:,} train / "
              f"{len(dev_split):,} dev), "
              f"{model.count_params():,} parameters, {device_summary()}, strategy {dist.name} "
              f"({dist.replicas} replica{'s' if dist.replicas > 1 else ''})")
    timer = _EpochTimer(files, resuming)
    if dist.name == "multiworker":  # model.fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585)
        from pipeline.train.loop import fit_distributed

        with _cluster_errors(dist):
            fit_distributed(model, strategy=dist.strategy, train_ds=train_ds, steps=steps, dev_ds=dev_ds,
                            epochs=opts.epochs, task=cfg.task, files=files, patience=opts.patience,
                            resuming=resuming, verbose=opts.verbose)
    else:
        model.fit(
            train_ds,
            validation_data=dev_ds,
            epochs=opts.epochs,
            steps_per_epoch=steps,
            callbacks=[timer.callback(keras)] + _callbacks(keras, files, opts, resuming),
            shuffle=False,  # the batches are shuffled and length-bucketed by make_dataset
            verbose=opts.verbose,
        )
    seconds = timer.total() + (cache["seconds"] if cache else 0.0)  # the features' time is training time too
    if not files.history_csv.exists() or not _read_history(files.history_csv).get("loss"):
        raise RnnxError("training stopped before finishing one epoch (NaN loss?); lower --lr and try again")
    history = _read_history(files.history_csv)
    if any(not np.isfinite(v) for v in history["loss"]):
        raise RnnxError(f"training produced a NaN/inf loss; lower --lr (now {opts.learning_rate}) and try again")
    if not dist.chief:
        _finish_worker(files, seconds, history, dist)
        return
    _save_run(model, cfg, opts, files, history, seconds, encoder, labels, splits, spec.name,
              lm=lm if cache else None, extra={"lm_features_cache": cache} if cache else {})


def _training_encoder(encoder: Encoder, lm, cfg: ModelConfig, data, opts: TrainOptions):
    """What encodes the sentences training reads: ``encoder``, or, for a frozen LM whose features fit in memory,
    one that gives each sentence the LM's features, computed once (:mod:`pipeline.train.lm_cache`)."""
    if lm is None or cfg.lm_fine_tune:
        return encoder
    from pipeline.train import lm_cache

    need = lm_cache.estimate_bytes(data.size()["tokens"], lm.shape.units)
    if need > lm_cache.MAX_BYTES:
        if opts.verbose:
            print(f"rnnx train: the LM's features would take {need / 2**30:.1f} GiB; the LM runs in every step instead")
        return encoder
    return lm_cache.PrecomputedLMEncoder(encoder, lm_cache.feature_model(lm))


class _EpochTimer:
    """Training time across interruptions: the seconds of the epochs before a ``--resume`` are kept in
    ``timing.json`` (written at every epoch end) and added to the time since."""

    def __init__(self, files: RunFiles, resuming: bool):
        from pipeline.artifacts import read_json

        self.path = files.root / "timing.json"
        self.before = float(read_json(self.path).get("train_seconds", 0.0)) if resuming and self.path.exists() else 0.0
        self.started = time.perf_counter()

    def total(self) -> float:
        return self.before + time.perf_counter() - self.started

    def callback(self, keras):
        return keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs=None: write_json(self.path, {"train_seconds": round(self.total(), 3)}))


def _save_run(model, cfg: ModelConfig, opts: TrainOptions, files: RunFiles, history: dict, seconds: float,
              encoder: Encoder, labels: Labels, splits: dict, name: str, *, lm=None, extra: dict) -> None:
    """The chief's last steps: best weights as float32 ``model.keras``, history, plots, dev/test metrics.

    ``lm``: the model trained on precomputed LM features; the saved one gets the LM's layers back."""
    from pipeline.keras_env import import_keras
    from pipeline.train.evaluate import evaluate_model
    from pipeline.train.plots import plot_history

    keras = import_keras()
    if files.best.exists():
        from pipeline.models import load_model

        model = load_model(files.best)
    if lm is not None:
        from pipeline.train.lm_cache import whole_model

        model = whole_model(model, cfg, lm)
    elif opts.mixed_precision:
        from pipeline.models.builders import rebuilt_float32

        model = rebuilt_float32(model, cfg)
    model.save(files.model)
    shutil.rmtree(files.best.parent, ignore_errors=True)
    write_json(files.history_json, history)
    plot_history(history, files.curve, title=f"{name}: {cfg.describe()}")
    metrics = {"train_seconds": round(seconds, 1), "epochs_run": len(history["loss"]), **extra}
    for split_name in ("dev", "test"):
        if split_name in splits:
            metrics[split_name] = evaluate_model(model, encoder, labels, splits[split_name], out_dir=files.root,
                                                 prefix=split_name)
    if "test" not in splits:
        from pipeline.train.summary import DEV_ONLY_NOTE

        metrics["note"] = DEV_ONLY_NOTE
    write_json(files.metrics, metrics)


def _check_supported(spec: RunSpec, data, dist) -> None:
    """Character features, character-LM features and CRFs: in-memory data, ``model.fit`` (not the multi-worker
    loop)."""
    what = "--chars" if spec.model.chars else "--lm" if spec.model.lm else "--crf"
    if dist.name == "multiworker":
        raise ConfigError(f"{what} is not available with --strategy multiworker yet; use --strategy default or "
                          "mirrored")
    if not hasattr(data, "train"):
        raise ConfigError(f"{what} needs the training data in memory; --data {spec.data} is a streamed corpus "
                          "(train word-level models on streamed corpora)")


def _cluster_errors(dist):
    """Multi-worker: a clear error when another worker goes away (else: nothing)."""
    if dist.name != "multiworker":
        return contextlib.nullcontext()
    from pipeline.train.loop import cluster_errors

    return cluster_errors()


def _worker_root() -> Path:
    """A temporary ``saved_models`` for a non-chief worker, removed when the process exits."""
    import atexit
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="rnnx-worker-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _finish_worker(files: RunFiles, seconds: float, history: dict, dist) -> Path:
    """A non-chief worker's result: no evaluation, no model; what it trained, for the CLI's summary.

    The folder lives in the worker's temporary root (removed at exit); the chief
    writes ``saved_models/NAME``.
    """
    write_json(files.metrics, {"train_seconds": round(seconds, 1), "epochs_run": len(history["loss"]),
                               "worker": {"chief": False, "workers": dist.workers,
                                          "note": "the chief evaluates and saves the run"}})
    return files.root


def _known_labels_only(split: Split, labels: Labels) -> Split:
    """Validation needs label ids: drop dev sequences carrying labels unseen in training."""
    known = set(labels.names)
    if split.task == "tagging":
        keep = [i for i, tags in enumerate(split.labels) if all(t in known for t in tags)]
    else:
        keep = [i for i, label in enumerate(split.labels) if label in known]
    return split if len(keep) == len(split) else split.subset(keep)


def _versions(keras) -> dict[str, str]:
    from pipeline.artifacts import package_versions

    return {"keras": keras.__version__, "backend": keras.backend.backend(),
            **package_versions(("tensorflow", "numpy", "rnnx"))}
