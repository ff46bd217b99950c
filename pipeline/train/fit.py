"""Train a tagger or classifier with ``model.fit`` and write ``saved_models/NAME/``.

What a run does, in order:

1. refuse to overwrite ``saved_models/NAME`` unless ``force``; continue
   ``saved_models/NAME.partial`` when ``resume`` (Keras ``BackupAndRestore``);
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

from pipeline.artifacts import replace_dir, write_json
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


def _prepare_folder(spec: RunSpec, root: Path, force: bool, resume: bool) -> tuple[Path, Path, bool]:
    final = root / spec.name
    staging = root / f"{spec.name}.partial"
    if final.exists() and not force and not resume:
        raise ConfigError(f"{final} already exists; pass --force to replace it or choose another --name")
    if final.exists() and resume and not staging.exists():
        raise ConfigError(f"{final} is a finished run; nothing to resume (pass --force to train it again)")
    resuming = False
    if staging.exists():
        if resume:
            resuming = (staging / "vocab.json").exists()
        elif force:
            shutil.rmtree(staging)
        else:
            raise ConfigError(
                f"{staging} holds an interrupted run; pass --resume to continue it or --force to start over"
            )
    staging.mkdir(parents=True, exist_ok=True)
    return final, staging, resuming


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
    """Train ``spec`` and return the finished run folder."""
    from pipeline.keras_env import device_summary, import_keras
    from pipeline.train.inputs import encode_targets, make_dataset, training_data

    opts = spec.options
    root = Path(root)
    data = training_data(spec)
    if data.task != spec.model.task:
        raise ConfigError(f"--data {spec.data} holds {data.task} data but --task is {spec.model.task}")
    splits = data.splits

    keras = import_keras()
    from pipeline.train.distribute import make_distribution

    dist = make_distribution(opts.strategy, opts.logical_cpus)
    if not dist.chief:  # multi-worker: only the chief keeps a run; the others write into a temporary folder
        root = _worker_root()
    final, staging, resuming = _prepare_folder(spec, root, force, resume)
    files = RunFiles(staging)
    if resuming and dist.name != "multiworker" and (files.backup / "loop_state.npz").exists():
        raise ConfigError(f"{staging} was started with --strategy multiworker; resume it with the same strategy "
                          "(and TF_CONFIG), or pass --force to start over")
    keras.utils.set_random_seed(opts.seed)
    if opts.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{opts.mixed_precision}")

    if spec.model.chars or spec.model.crf:
        _check_supported(spec, data, dist)
    if resuming:
        from pipeline.artifacts import read_json

        vocab = Vocabulary.from_json(read_json(files.vocab))
        labels = Labels.from_json(read_json(files.labels))
        chars = CharVocab.from_json(read_json(files.chars)) if spec.model.chars else None
    else:
        vocab, labels = data.vocabularies(opts)
        chars = CharVocab.build(data.train.tokens) if spec.model.chars else None
        write_json(files.vocab, vocab.to_json())
        write_json(files.labels, labels.to_json())
        if chars is not None:
            write_json(files.chars, chars.to_json())
    encoder = Encoder(vocab, chars)

    cfg = ModelConfig.from_json({**spec.model.to_json(), "vocab_size": vocab.size, "num_labels": labels.size,
                                 "num_chars": chars.size if chars else 0})
    dev_split = _known_labels_only(splits["dev"], labels)
    config = {
        "name": spec.name,
        "data": spec.data,
        "data_format": spec.data_format,
        "column": spec.column,
        "dev": spec.dev,
        "test": spec.test,
        "model": cfg.to_json(),
        "options": asdict(opts),
        "sizes": {"train": data.size(), **{k: {"sequences": len(v), "tokens": v.num_tokens}
                                           for k, v in splits.items() if k != "train"}},
        "versions": _versions(keras),
        "device": device_summary(),
        "strategy": {"name": dist.name, "replicas": dist.replicas},
    }
    write_json(files.config, config)

    from pipeline.models.builders import build_model

    guard = _cluster_errors(dist)
    with guard, dist.strategy.scope():
        model = build_model(cfg)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=opts.learning_rate, clipnorm=5.0),
            loss=None if cfg.crf else "sparse_categorical_crossentropy",  # a CRFTagger computes its own loss
            metrics=["accuracy"],
        )
    train_ds, steps = data.dataset(encoder, labels, opts)
    dev_ds, _ = make_dataset(encoder.encode_all(dev_split.tokens), encode_targets(dev_split, labels), cfg.task, 64,
                             shuffle=False, seed=0)
    if opts.verbose:
        print(f"rnnx train: {cfg.describe()} on {spec.data} ({data.size()['sequences']:,} train / "
              f"{len(dev_split):,} dev), "
              f"{model.count_params():,} parameters, {device_summary()}, strategy {dist.name} "
              f"({dist.replicas} replica{'s' if dist.replicas > 1 else ''})")
    started = time.perf_counter()
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
            callbacks=_callbacks(keras, files, opts, resuming),
            shuffle=False,  # the batches are shuffled and length-bucketed by make_dataset
            verbose=opts.verbose,
        )
    seconds = time.perf_counter() - started
    if not files.history_csv.exists() or not _read_history(files.history_csv).get("loss"):
        raise RnnxError("training stopped before finishing one epoch (NaN loss?); lower --lr and try again")
    history = _read_history(files.history_csv)
    if any(not np.isfinite(v) for v in history["loss"]):
        raise RnnxError(f"training produced a NaN/inf loss; lower --lr (now {opts.learning_rate}) and try again")
    if not dist.chief:
        return _finish_worker(files, seconds, history, dist)

    _save_run(model, cfg, opts, files, history, seconds, encoder, labels, splits, spec.name)
    replace_dir(staging, final)
    return final


def _save_run(model, cfg: ModelConfig, opts: TrainOptions, files: RunFiles, history: dict, seconds: float,
              encoder: Encoder, labels: Labels, splits: dict, name: str) -> None:
    """The chief's last steps: best weights as float32 ``model.keras``, history, plots, dev/test metrics."""
    from pipeline.keras_env import import_keras
    from pipeline.train.evaluate import evaluate_model
    from pipeline.train.plots import plot_history

    keras = import_keras()
    if files.best.exists():
        from pipeline.models import load_model

        model = load_model(files.best)
    if opts.mixed_precision:
        model = _as_float32(model, cfg)
    model.save(files.model)
    shutil.rmtree(files.best.parent, ignore_errors=True)
    write_json(files.history_json, history)
    plot_history(history, files.curve, title=f"{name}: {cfg.describe()}")
    metrics = {"train_seconds": round(seconds, 1), "epochs_run": len(history["loss"])}
    for split_name in ("dev", "test"):
        if split_name in splits:
            metrics[split_name] = evaluate_model(model, encoder, labels, splits[split_name], out_dir=files.root,
                                                 prefix=split_name)
    write_json(files.metrics, metrics)


def _check_supported(spec: RunSpec, data, dist) -> None:
    """Character features and CRFs: in-memory data, ``model.fit`` (not the multi-worker loop)."""
    what = "--chars" if spec.model.chars else "--crf"
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


def _as_float32(model, cfg: ModelConfig):
    """The same weights in a float32 model: what is saved, exported and checked.

    Mixed precision speeds up training on GPUs; deployment and parity use float32.
    """
    from pipeline.keras_env import import_keras
    from pipeline.models.builders import build_model

    keras = import_keras()
    keras.mixed_precision.set_global_policy("float32")
    clean = build_model(cfg)
    clean.set_weights([w.astype("float32") for w in model.get_weights()])
    return clean


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
