"""rnnx's own synchronous training loop, for ``MultiWorkerMirroredStrategy``.

Keras 3's ``model.fit`` fails under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585: its first-batch build mean-reduces the int64 input
batch across replicas, and its per-step log reduction calls
``strategy.reduce("MEAN", v, axis=0)`` on 0-d values). This loop does what
``model.fit`` and rnnx's callbacks do, with the strategy's own collectives:

=========================  ===================================================
one step                   every replica runs the model on its slice of the
                           global batch; the loss is the masked sparse
                           categorical cross-entropy summed over the replica's
                           real tokens (tagging) or texts (classification)
                           and divided by the *global* count (all-reduced), so
                           the summed gradients are those of the global mean;
                           ``optimizer.apply`` sums the gradients across
                           replicas (``TFOptimizer._all_reduce_sum_gradients``)
validation                 distributed like training: each worker scores its
                           slice of every dev batch and the sums are
                           all-reduced, so every worker holds the same numbers
                           and takes the same early-stopping and NaN decisions
                           (a decision taken on one worker only would leave the
                           others waiting in a collective)
after each epoch           a ``history.csv`` row (CSVLogger's columns), the
                           best model by ``val_loss`` in ``checkpoints/``,
                           TensorBoard scalars (chief), a resumption checkpoint
                           in ``backup/loop_state.npz``; every worker writes,
                           the others into their temporary folder
resumption                 the chief reads its checkpoint (model weights,
                           optimizer variables, finished epochs, early-stopping
                           state) and broadcasts it: the other workers need no
                           shared file system
=========================  ===================================================

The reported ``loss``/``accuracy`` are means over every real token (text) of
the epoch. Gradient clipping (``clipnorm``) acts on each replica's gradient
before the cross-replica sum, as under ``model.fit`` with ``MirroredStrategy``.

>>> LoopState().to_json()
{'epochs_done': 0, 'best_val_loss': inf, 'best_epoch': -1, 'wait': 0}
>>> history_row(0, {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8})
{'epoch': 0, 'accuracy': 0.9, 'loss': 0.5, 'val_accuracy': 0.8, 'val_loss': 0.6}
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.artifacts import atomic_path, write_text
from pipeline.errors import RnnxError
from pipeline.train.rundir import RunFiles

HISTORY_COLUMNS = ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]  # what CSVLogger writes
BACKUP_FILE = "loop_state.npz"


@dataclass
class LoopState:
    """Where a run stands after its last finished epoch (saved with each checkpoint)."""

    epochs_done: int = 0
    best_val_loss: float = math.inf
    best_epoch: int = -1
    wait: int = 0  # epochs since the last improvement (early stopping)

    def to_json(self) -> dict:
        return asdict(self)

    def as_vector(self) -> np.ndarray:
        return np.array([self.epochs_done, self.best_val_loss, self.best_epoch, self.wait], np.float64)

    @classmethod
    def from_vector(cls, v) -> "LoopState":
        return cls(int(v[0]), float(v[1]), int(v[2]), int(v[3]))

    def after(self, epoch: int, val_loss: float) -> "LoopState":
        """The state once ``epoch`` (0-based) scored ``val_loss`` (Keras EarlyStopping rules).

        >>> LoopState().after(0, 0.7).after(1, 0.8)
        LoopState(epochs_done=2, best_val_loss=0.7, best_epoch=0, wait=1)
        """
        if val_loss < self.best_val_loss:
            return LoopState(epoch + 1, val_loss, epoch, 0)
        return LoopState(epoch + 1, self.best_val_loss, self.best_epoch, self.wait + 1)

    def improved(self) -> bool:
        return self.best_epoch == self.epochs_done - 1

    def should_stop(self, patience: int) -> bool:
        return self.wait >= patience and self.epochs_done > 1


@contextmanager
def cluster_errors():
    """Turn "a peer went away" errors from TensorFlow's collectives into a message that says what to do.

    When one worker stops (an error, a kill), the others' collectives fail with
    ``UnavailableError`` / ``CancelledError`` / ``DeadlineExceededError``.

    >>> with cluster_errors():
    ...     pass
    """
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError)
    try:
        yield
    except lost as exc:
        first = str(exc.message if hasattr(exc, "message") else exc).strip().splitlines()[0][:300]
        raise RnnxError(f"lost contact with another worker ({type(exc).__name__}: {first}); read the other "
                        "workers' output for the cause, then start every worker again (add --resume to continue "
                        "from the last finished epoch)") from None


def is_chief(strategy) -> bool:
    """True on the worker that keeps the run (the ``chief`` task, else worker 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def fit_distributed(model, *, strategy, train_ds, steps: int, dev_ds, epochs: int, task: str, files: RunFiles,
                    patience: int, resuming: bool, verbose: int = 1) -> None:
    """Train the compiled ``model`` for up to ``epochs`` epochs under ``strategy``.

    ``model`` and its optimizer must have been created in ``strategy.scope()``;
    ``train_ds`` repeats (``steps`` batches make an epoch), ``dev_ds`` is finite.
    Every worker calls this with the same arguments except ``files`` (the
    chief's run folder, or the worker's temporary one). Raises
    :class:`~pipeline.errors.RnnxError` when the loss becomes NaN/inf.
    """
    chief = is_chief(strategy)
    optimizer = model.optimizer
    with strategy.scope():
        optimizer.build(model.trainable_variables)
    state = _restore(model, files, resuming) if chief else LoopState()
    _check_same_model(strategy, model)
    state = _sync_from_chief(strategy, model, state)
    if chief and resuming:
        _truncate_history(files.history_csv, state.epochs_done)
    if state.epochs_done < epochs and not state.should_stop(patience):
        state = _epochs(model, strategy, train_ds, steps, dev_ds, epochs, task, files, patience, state, chief,
                        verbose)
    if files.best.exists() and not state.improved():
        model.load_weights(str(files.best))  # restore the best weights, as EarlyStopping(restore_best_weights)
    shutil.rmtree(files.backup, ignore_errors=True)  # training finished: nothing to resume (as BackupAndRestore)


def _epochs(model, strategy, train_ds, steps, dev_ds, epochs, task, files, patience, state, chief, verbose):
    """Run epochs ``state.epochs_done + 1 .. epochs`` (or until early stopping); the final state."""
    import tensorflow as tf

    train_iter = iter(strategy.experimental_distribute_dataset(train_ds))
    dist_dev = strategy.experimental_distribute_dataset(dev_ds)
    dev_steps = int(dev_ds.cardinality())
    if dev_steps < 1:
        raise RnnxError("the dev set has an unknown or zero number of batches; give a --dev file with sentences")
    train_step = _train_step(model, strategy, task)
    eval_step = _eval_step(model, strategy, task)
    writers = _tensorboard(files.logs, tf) if chief else None
    for epoch in range(state.epochs_done, epochs):
        started = time.perf_counter()
        logs = _means(_run(train_step, train_iter, steps))
        val = _means(_run(eval_step, iter(dist_dev), dev_steps))
        logs.update({f"val_{k}": v for k, v in val.items()})
        state = end_epoch(model, files, state, epoch, logs, writers=writers)
        if verbose and chief:
            print(f"epoch {epoch + 1}/{epochs}: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(logs.items()))
                  + f"  ({time.perf_counter() - started:.1f} s)", flush=True)
        if state.should_stop(patience):
            if verbose and chief:
                print(f"early stopping after epoch {epoch + 1}: val_loss has not improved for {patience} "
                      f"epoch(s); best epoch {state.best_epoch + 1}", flush=True)
            break
    return state


def end_epoch(model, files: RunFiles, state: LoopState, epoch: int, logs: dict, *, writers=None) -> LoopState:
    """Record a finished epoch on this worker: history row, best model, checkpoint, TensorBoard.

    Every worker calls it with the same numbers (they were all-reduced), so all
    take the same decisions. Raises on a NaN/inf loss.
    """
    if not all(math.isfinite(v) for v in logs.values()):
        raise RnnxError(f"training produced a NaN/inf loss in epoch {epoch + 1} ({_format(logs)}); "
                        "lower --lr and try again")
    state = state.after(epoch, logs["val_loss"])
    if state.improved():
        with atomic_path(files.best) as tmp:
            model.save(tmp)
    append_history(files.history_csv, history_row(epoch, logs))
    if writers is not None:
        _write_scalars(writers, epoch, logs)
    _save_backup(files.backup, model, state)
    return state


# ---- one step on every replica ------------------------------------------------------------------

def _weights(x, y, task: str):
    """1.0 for every real token (tagging: id != 0) or text (classification)."""
    import tensorflow as tf

    if task == "tagging":
        return tf.cast(tf.not_equal(x, 0), tf.float32)
    return tf.ones(tf.shape(y), tf.float32)


def _sums(y, probs, weight):
    """Local sums of the loss and of the correct predictions over the real tokens."""
    import keras
    import tensorflow as tf

    losses = keras.losses.sparse_categorical_crossentropy(y, probs)
    correct = tf.cast(tf.equal(tf.argmax(probs, axis=-1, output_type=tf.int32), tf.cast(y, tf.int32)), tf.float32)
    return tf.reduce_sum(tf.cast(losses, tf.float32) * weight), tf.reduce_sum(correct * weight)


def _train_step(model, strategy, task: str):
    """A ``tf.function`` taking the distributed iterator: one synchronous step, global sums out."""
    import tensorflow as tf

    optimizer = model.optimizer
    replicas = strategy.num_replicas_in_sync

    def replica_step(x, y):
        ctx = tf.distribute.get_replica_context()
        weight = _weights(x, y, task)
        local_count = tf.reduce_sum(weight)
        count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local_count)
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss_sum, correct = _sums(y, probs, weight)
            loss = loss_sum / tf.maximum(count, 1.0)  # this replica's share of the global mean
            if model.losses:
                loss += tf.add_n(model.losses) / replicas
            scaled = optimizer.scale_loss(loss)  # mixed float16: a LossScaleOptimizer scales
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)  # sums the gradients across replicas
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.stack([loss_sum, correct, local_count]))

    @tf.function
    def step(iterator):
        x, y = next(iterator)
        return strategy.experimental_local_results(strategy.run(replica_step, args=(x, y)))[0]

    return step


def _eval_step(model, strategy, task: str):
    import tensorflow as tf

    def replica_step(x, y):
        weight = _weights(x, y, task)
        loss_sum, correct = _sums(y, model(x, training=False), weight)
        ctx = tf.distribute.get_replica_context()
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.stack([loss_sum, correct, tf.reduce_sum(weight)]))

    @tf.function
    def step(iterator):
        x, y = next(iterator)
        return strategy.experimental_local_results(strategy.run(replica_step, args=(x, y)))[0]

    return step


def _run(step, iterator, steps: int) -> np.ndarray:
    """Sum the global ``[loss_sum, correct, count]`` of ``steps`` steps."""
    total = step(iterator)
    for _ in range(steps - 1):
        total += step(iterator)
    return total.numpy()


def _means(sums: np.ndarray) -> dict:
    loss_sum, correct, count = (float(v) for v in sums)
    count = max(count, 1.0)
    return {"loss": loss_sum / count, "accuracy": correct / count}


# ---- keeping every worker in step -----------------------------------------------------------------

def _broadcast(strategy, values: list[np.ndarray]) -> list[np.ndarray]:
    """The chief's ``values`` on every worker (an all-reduce in which only replica 0 contributes)."""
    import tensorflow as tf

    # one dtype for all: the collective packs the list into one buffer (float64 holds int64 counters up to 2**53)
    tensors = [tf.constant(np.asarray(v, np.float64)) for v in values]

    def replica_fn(*ts):
        ctx = tf.distribute.get_replica_context()
        first = tf.equal(ctx.replica_id_in_sync_group, 0)  # tf.where, not a product: inf * 0 is NaN
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, [tf.where(first, t, tf.zeros_like(t)) for t in ts])

    @tf.function
    def run():
        return strategy.experimental_local_results(strategy.run(replica_fn, args=tensors))[0]

    return [np.asarray(t) for t in run()]


def _all_sum(strategy, value: np.ndarray) -> np.ndarray:
    """``value`` summed over all replicas (every worker gets the sum)."""
    import tensorflow as tf

    def replica_fn(t):  # tf.identity places the input on the replica's device (collectives need one)
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(t))

    @tf.function
    def run(t):
        return strategy.experimental_local_results(strategy.run(replica_fn, args=(t,)))[0]

    return run(tf.constant(np.asarray(value, np.float64))).numpy()


def _check_same_model(strategy, model) -> None:
    """Refuse, on every worker at once, to train when the workers built different models.

    Different vocabularies (different data files or options) give different
    embedding shapes; the weight broadcast would then fail or hang.
    """
    shapes = np.array([float(np.prod(v.shape)) for v in model.weights])
    (chief_shapes,) = _broadcast(strategy, [shapes])
    differs = float(shapes.shape != chief_shapes.shape or not np.array_equal(shapes, chief_shapes))
    if _all_sum(strategy, np.array([differs]))[0] > 0:
        raise RnnxError(f"the workers built different models ({int(shapes.sum()):,} parameters here); start "
                        "every worker with the same command, data files and options")


def _sync_from_chief(strategy, model, state: LoopState) -> LoopState:
    """Give every worker the chief's weights, optimizer variables and loop state."""
    variables = list(model.weights) + list(model.optimizer.variables)
    values = _broadcast(strategy, [np.asarray(v) for v in variables] + [state.as_vector()])
    with strategy.scope():
        for var, value in zip(variables, values):
            var.assign(value.astype(var.dtype))
    return LoopState.from_vector(values[-1])


# ---- files ---------------------------------------------------------------------------------------

def _save_backup(folder: Path, model, state: LoopState) -> None:
    """Model weights, optimizer variables and loop state, written atomically."""
    arrays = {f"model_{i:04d}": np.asarray(v) for i, v in enumerate(model.weights)}
    arrays.update({f"optimizer_{i:04d}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)})
    arrays["state"] = np.array(json.dumps(state.to_json()))
    with atomic_path(Path(folder) / BACKUP_FILE) as tmp:
        np.savez(tmp, **arrays)


def _restore(model, files: RunFiles, resuming: bool) -> LoopState:
    """The checkpoint's state, loaded into ``model`` (a fresh state when there is none)."""
    path = files.backup / BACKUP_FILE
    if not resuming or not path.exists():
        if resuming and files.backup.exists() and any(files.backup.iterdir()):
            raise RnnxError(f"{files.backup} holds a checkpoint of a single-machine run; resume it with the "
                            "--strategy it started with, or pass --force to start over")
        return LoopState()
    with np.load(path) as saved:
        state = LoopState(**json.loads(str(saved["state"])))
        for prefix, variables in (("model", model.weights), ("optimizer", model.optimizer.variables)):
            keys = sorted(k for k in saved.files if k.startswith(prefix + "_"))
            if len(keys) != len(variables) or any(saved[k].shape != tuple(v.shape) for k, v in zip(keys, variables)):
                raise RnnxError(f"{path} does not match this model ({prefix} variables differ); resume with the "
                                "options the run started with, or pass --force to start over")
            for key, var in zip(keys, variables):
                var.assign(saved[key])
    return state


def history_row(epoch: int, logs: dict) -> dict:
    """A ``history.csv`` row with CSVLogger's columns (0-based epoch)."""
    return {"epoch": epoch, **{k: logs[k] for k in HISTORY_COLUMNS[1:]}}


def _read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\r\n")  # csv.excel, as CSVLogger
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def append_history(path: Path, row: dict) -> None:
    """Add ``row`` to ``history.csv`` (the whole file is rewritten atomically)."""
    _write_rows(path, _read_rows(path) + [row])


def _truncate_history(path: Path, epochs: int) -> None:
    """Drop rows of epochs the checkpoint does not hold (an interruption between the two writes)."""
    rows = _read_rows(path)
    if len(rows) != epochs:
        _write_rows(path, rows[:epochs])


def _tensorboard(logs: Path, tf):
    return {"train": tf.summary.create_file_writer(str(logs / "train")),
            "validation": tf.summary.create_file_writer(str(logs / "validation"))}


def _write_scalars(writers: dict, epoch: int, logs: dict) -> None:
    """``epoch_loss`` / ``epoch_accuracy`` under ``train/`` and ``validation/``, as Keras's TensorBoard."""
    import tensorflow as tf

    for split, writer in writers.items():
        prefix = "val_" if split == "validation" else ""
        with writer.as_default():
            for name in ("loss", "accuracy"):
                tf.summary.scalar(f"epoch_{name}", logs[prefix + name], step=epoch)
        writer.flush()


def _format(logs: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in sorted(logs.items()))
