"""Training on several devices and machines with TensorFlow's ``tf.distribute``.

=================  ========================================================
``default``        one device: the GPU when there is one, else the CPU;
                   ``model.fit``
``mirrored``       ``MirroredStrategy``: synchronous data parallelism over the
                   local GPUs (or ``--logical-cpus N`` CPU devices, for trying it
                   without GPUs); ``model.fit``
``multiworker``    ``MultiWorkerMirroredStrategy`` across machines named by
                   ``TF_CONFIG``; rnnx's own synchronous training loop
                   (:mod:`pipeline.train.loop`), because Keras 3's ``model.fit``
                   fails under it (keras-team/keras#20585: the first-batch build
                   and the per-step log reduction both break). Start the same
                   command on every machine, each with its own ``TF_CONFIG``;
                   the chief (``chief`` task, else worker 0) writes
                   ``saved_models/NAME``, the others a temporary folder that is
                   removed when they exit
=================  ========================================================

``--batch-size`` is the *global* batch: each step splits it across all replicas.
rnnx does not rescale the learning rate; when you grow the global batch by a
factor k, the usual starting point is ``--lr`` times k (linear scaling), lowered
if the first epochs diverge.

>>> sorted(STRATEGIES)
['default', 'mirrored', 'multiworker']
>>> cluster_role('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}')
ClusterRole(task='worker', index=1, workers=2, chief=False)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable

from pipeline.errors import ConfigError

TF_CONFIG_EXAMPLE = ('\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')


@dataclass(frozen=True)
class ClusterRole:
    """This process's place in a multi-worker cluster (from ``TF_CONFIG``)."""

    task: str  # "chief" or "worker"
    index: int
    workers: int  # processes in the cluster, chief included
    chief: bool  # the one that writes saved_models/NAME


def cluster_role(tf_config: str | None) -> ClusterRole:
    """Validate ``TF_CONFIG`` and say which task this process is.

    The chief is the ``chief`` task when the cluster names one, else worker 0.

    >>> cluster_role('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}')
    Traceback (most recent call last):
    ...
    pipeline.errors.ConfigError: TF_CONFIG: task index 3 is out of range: the cluster lists 1 worker task(s)
    """
    if tf_config is None:
        raise ConfigError(f"--strategy multiworker needs TF_CONFIG, e.g. {TF_CONFIG_EXAMPLE}")
    try:
        config = json.loads(tf_config)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc.msg} at position {exc.pos})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError(f"TF_CONFIG needs a \"cluster\" and a \"task\" object, e.g. {TF_CONFIG_EXAMPLE}")
    jobs = {name: cluster.get(name) or [] for name in ("chief", "worker")}
    if not all(isinstance(v, list) and all(isinstance(a, str) for a in v) for v in jobs.values()):
        raise ConfigError('TF_CONFIG: "cluster" lists must hold "host:port" strings')
    if not jobs["worker"] and not jobs["chief"]:
        raise ConfigError(f"TF_CONFIG: the cluster names no \"worker\" (or \"chief\") addresses, e.g. {TF_CONFIG_EXAMPLE}")
    kind, index = task.get("type"), task.get("index")
    if kind not in ("chief", "worker"):
        raise ConfigError(f"TF_CONFIG: task type must be \"worker\" or \"chief\", got {kind!r}")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[kind]):
        raise ConfigError(f"TF_CONFIG: task index {index} is out of range: the cluster lists "
                          f"{len(jobs[kind])} {kind} task(s)")
    chief = kind == "chief" if jobs["chief"] else index == 0
    return ClusterRole(kind, index, len(jobs["chief"]) + len(jobs["worker"]), chief)


class _OneDevice:
    """No strategy: what Keras under JAX or PyTorch trains with (one device)."""

    num_replicas_in_sync = 1

    def scope(self):
        import contextlib

        return contextlib.nullcontext()


def _default(logical_cpus: int | None):
    from pipeline.keras_env import import_keras

    if import_keras().backend.backend() != "tensorflow":
        return _OneDevice()
    import tensorflow as tf

    return tf.distribute.get_strategy()


def _mirrored(logical_cpus: int | None):
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


def _multiworker(logical_cpus: int | None):
    cluster_role(os.environ.get("TF_CONFIG"))  # a clear error before TensorFlow tries to connect
    import tensorflow as tf

    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:  # e.g. the eager context started before the strategy
        raise ConfigError(f"--strategy multiworker could not start: {exc}; create the strategy before "
                          "running any TensorFlow op (rnnx does, unless it is imported into a running program)") from None


STRATEGIES: dict[str, Callable] = {"default": _default, "mirrored": _mirrored, "multiworker": _multiworker}


@dataclass
class Distribution:
    name: str
    strategy: object
    replicas: int
    chief: bool = True  # False on the other workers of a multi-worker cluster: they keep nothing
    workers: int = 1


def split_cpu(n: int) -> None:
    """Make TensorFlow see ``n`` logical CPU devices (must run before TF starts)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as exc:
        raise ConfigError(f"--logical-cpus must be set before TensorFlow starts: {exc}") from None


def make_distribution(name: str = "default", logical_cpus: int | None = None) -> Distribution:
    if name not in STRATEGIES:
        raise ConfigError(f"--strategy {name!r} is not known; choose one of: {', '.join(STRATEGIES)}")
    if logical_cpus:
        if logical_cpus < 1:
            raise ConfigError(f"--logical-cpus must be >= 1, got {logical_cpus}")
        split_cpu(logical_cpus)
    strategy = STRATEGIES[name](logical_cpus)
    replicas = int(strategy.num_replicas_in_sync)
    if name != "multiworker":
        return Distribution(name, strategy, replicas)
    role = cluster_role(os.environ.get("TF_CONFIG"))
    return Distribution(name, strategy, replicas, chief=role.chief, workers=role.workers)
