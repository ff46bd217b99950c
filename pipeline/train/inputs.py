"""What ``model.fit`` trains on: an in-memory split or a streamed multi-file corpus.

Both kinds answer the same three questions (:class:`TrainingData`): the splits
kept in memory (dev, test), the vocabularies, and a ``tf.data`` pipeline of
right-padded, length-bucketed batches with its number of steps per epoch.

=============  =================================================================
in memory      a built-in dataset or one file: all sentences are encoded once,
               batches are re-bucketed with a new seed every epoch
streamed       a folder or glob of files (:mod:`pipeline.data.stream`): one file
               in memory at a time; ``tf.data`` shuffles in a bounded buffer and
               buckets by length (``bucket_by_sequence_length``)
=============  =================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.data.corpus import Split
from pipeline.data.vocab import Labels, Vocabulary
from pipeline.errors import ConfigError

SHUFFLE_BUFFER = 4096  # sentences held for cross-file shuffling in a streamed corpus
BUCKET_BOUNDARIES = [8, 12, 16, 20, 25, 30, 40, 50, 70, 100, 150]


def encode_targets(split: Split, labels: Labels) -> list:
    if split.task == "tagging":
        return [np.asarray(labels.encode(tags), dtype=np.int32) for tags in split.labels]
    return [np.int32(i) for i in labels.encode(split.labels)]


@dataclass
class BatchPlan:
    """Which sequences go into which batch, epoch by epoch (numpy only).

    With ``shuffle`` every epoch is re-bucketed with a new seed; without
    ``bucketing`` the batches are random (each padded to its longest row).
    """

    ids: list
    targets: list
    task: str
    batch_size: int
    shuffle: bool
    seed: int
    bucketing: bool = True

    def __post_init__(self) -> None:
        from pipeline.data.batching import bucket_batches

        self.lengths = [len(s) for s in self.ids]
        self.num_batches = len(bucket_batches(self.lengths, self.batch_size, shuffle=False))

    def order(self, epoch: int) -> list[np.ndarray]:
        from pipeline.data.batching import bucket_batches

        if self.bucketing:
            return bucket_batches(self.lengths, self.batch_size, shuffle=self.shuffle, seed=self.seed + epoch)
        perm = np.random.default_rng(self.seed + epoch).permutation(len(self.lengths))
        return [perm[i : i + self.batch_size] for i in range(0, len(perm), self.batch_size)]

    def batch(self, idx) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)``: ``x`` right-padded ids, or a dict with the characters too (see :mod:`pipeline.data.features`)."""
        from pipeline.data.batching import batch_padded
        from pipeline.data.features import Encoded, collate

        if not (self.ids and isinstance(self.ids[0], Encoded)):
            return batch_padded(self.ids, self.targets, idx, task=self.task)
        rows = [self.ids[int(i)] for i in idx]
        _, y = batch_padded([e.ids for e in rows], [self.targets[int(i)] for i in idx], range(len(rows)),
                            task=self.task)
        return collate(rows), y

    @property
    def has_dict_inputs(self) -> bool:
        """Whether batches are dicts of inputs (character or character-LM features), not one ids array."""
        from pipeline.data.features import Encoded

        return bool(self.ids) and isinstance(self.ids[0], Encoded)


def make_dataset(ids: list[list[int]], targets: list, task: str, batch_size: int, *, shuffle: bool, seed: int,
                 bucketing: bool = True, pipeline: str = "auto"):
    """Length-bucketed, right-padded batches and the number of batches per epoch.

    ``pipeline="auto"`` gives a ``tf.data`` dataset under the TensorFlow backend
    (needed by ``tf.distribute``) and a ``keras.utils.PyDataset`` under JAX or
    PyTorch, so training works where TensorFlow is not installed.
    """
    from pipeline.keras_env import import_keras

    plan = BatchPlan(ids, targets, task, batch_size, shuffle, seed, bucketing)
    if pipeline == "auto":
        pipeline = "tf.data" if import_keras().backend.backend() == "tensorflow" else "pydataset"
    if pipeline not in PIPELINES:
        raise ConfigError(f"pipeline must be auto or one of {', '.join(PIPELINES)}, got {pipeline!r}")
    return PIPELINES[pipeline](plan), plan.num_batches


def _tf_data(plan: BatchPlan):
    import tensorflow as tf

    epoch = [0]

    def batches():
        order = plan.order(epoch[0])
        epoch[0] += 1
        for idx in order:
            yield plan.batch(idx)

    y_shape = (None, None) if plan.task == "tagging" else (None,)
    x_spec = tf.TensorSpec((None, None), tf.int64)
    if plan.has_dict_inputs:  # every input of a batch, by its rank and dtype
        first = plan.batch(plan.order(0)[0][:1])[0]
        x_spec = {k: tf.TensorSpec((None,) * v.ndim, tf.as_dtype(v.dtype)) for k, v in first.items()}
    ds = tf.data.Dataset.from_generator(
        batches,
        output_signature=(x_spec, tf.TensorSpec(y_shape, tf.int32)),
    )
    if plan.shuffle:
        ds = ds.repeat()
    else:  # a known length lets Keras show progress and end validation without a warning
        ds = ds.apply(tf.data.experimental.assert_cardinality(plan.num_batches))
    return _options(ds.prefetch(2))


def _py_dataset(plan: BatchPlan):
    from pipeline.keras_env import import_keras

    keras = import_keras()

    class BucketedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.batches = plan.order(0)

        def __len__(self):
            return plan.num_batches

        def __getitem__(self, i):
            return plan.batch(self.batches[i])

        def on_epoch_end(self):
            if plan.shuffle:
                self.epoch += 1
                self.batches = plan.order(self.epoch)

    return BucketedBatches()


PIPELINES = {"tf.data": _tf_data, "pydataset": _py_dataset}


def _options(ds):
    import tensorflow as tf

    options = tf.data.Options()
    # batches come from a generator, not files: a strategy splits each batch across its replicas
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


@dataclass
class InMemoryData:
    splits: dict[str, Split]
    train: Split
    task: str = field(init=False)

    def __post_init__(self) -> None:
        self.task = self.train.task

    def size(self) -> dict:
        return {"sequences": len(self.train), "tokens": self.train.num_tokens}

    def vocabularies(self, opts) -> tuple[Vocabulary, Labels]:
        vocab = Vocabulary.build(self.train.tokens, lowercase=opts.lowercase, min_freq=opts.min_freq,
                                 max_size=opts.max_vocab)
        flat = self.train.labels if self.task == "classification" else [t for tags in self.train.labels for t in tags]
        return vocab, Labels.build(flat)

    def dataset(self, encoder, labels: Labels, opts):
        ids = encoder.encode_all(self.train.tokens)
        ds, steps = make_dataset(ids, encode_targets(self.train, labels), self.task, opts.batch_size, shuffle=True,
                                 seed=opts.seed, bucketing=opts.bucketing)
        return ds, opts.steps_per_epoch or steps


@dataclass
class StreamedData:
    files: list[Path]
    splits: dict[str, Split]
    fmt: str | None
    column: str
    scan: object = None
    task: str = ""

    def _scan(self, lowercase: bool):
        if self.scan is None:
            from pipeline.data.stream import scan_corpus

            self.scan = scan_corpus(self.files, fmt=self.fmt, column=self.column, lowercase=lowercase)
            self.task = self.scan.task
        return self.scan

    def size(self) -> dict:
        scan = self._scan(True)
        return {"sequences": scan.sequences, "tokens": scan.tokens, "files": len(self.files), "streamed": True}

    def vocabularies(self, opts) -> tuple[Vocabulary, Labels]:
        scan = self._scan(opts.lowercase)
        vocab = Vocabulary.from_counts(scan.words, lowercase=opts.lowercase, min_freq=opts.min_freq,
                                       max_size=opts.max_vocab)
        return vocab, Labels(sorted(scan.labels))

    def dataset(self, encoder, labels: Labels, opts):
        import tensorflow as tf

        from pipeline.data.stream import iter_examples

        vocab = encoder.vocab
        task = self.task
        epoch = [0]

        def examples():
            epoch[0] += 1
            for tokens, target in iter_examples(self.files, fmt=self.fmt, column=self.column,
                                                seed=opts.seed + epoch[0]):
                y = labels.encode(target) if task == "tagging" else labels.encode([target])[0]
                yield np.asarray(vocab.encode(tokens), np.int64), np.asarray(y, np.int32)

        y_spec = tf.TensorSpec((None,), tf.int32) if task == "tagging" else tf.TensorSpec((), tf.int32)
        ds = tf.data.Dataset.from_generator(examples, output_signature=(tf.TensorSpec((None,), tf.int64), y_spec))
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=opts.seed)
        ds = ds.bucket_by_sequence_length(
            lambda x, y: tf.shape(x)[0],
            bucket_boundaries=BUCKET_BOUNDARIES,
            bucket_batch_sizes=[opts.batch_size] * (len(BUCKET_BOUNDARIES) + 1),
        )
        steps = opts.steps_per_epoch or math.ceil(self._scan(opts.lowercase).sequences / opts.batch_size)
        return _options(ds.repeat().prefetch(2)), steps


def training_data(spec) -> InMemoryData | StreamedData:
    """The training data a :class:`~pipeline.train.fit.RunSpec` names."""
    from pipeline.data.sources import is_builtin, load_file, resolve
    from pipeline.data.stream import corpus_files

    files = None if is_builtin(spec.data) else corpus_files(spec.data)
    opts = spec.options
    if files is None:
        splits = resolve(spec.data, fmt=spec.data_format, column=spec.column, dev=spec.dev, test=spec.test)
        train = splits["train"] if opts.train_limit is None else splits["train"].head(opts.train_limit)
        if len(train) == 0:
            raise ConfigError(f"--data {spec.data}: the training split is empty")
        return InMemoryData(splits, train)
    if not spec.dev:
        raise ConfigError(f"--data {spec.data} names {len(files)} files (a streamed corpus); give --dev FILE")
    if opts.train_limit is not None:
        raise ConfigError("--limit applies to in-memory data; for a streamed corpus use --steps-per-epoch")
    splits = {"dev": load_file(spec.dev, spec.data_format, spec.column)}
    if spec.test:
        splits["test"] = load_file(spec.test, spec.data_format, spec.column)
    data = StreamedData(files, splits, spec.data_format, spec.column)
    data._scan(opts.lowercase)
    return data
