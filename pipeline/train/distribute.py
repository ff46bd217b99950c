"""Training on several devices and machines with TensorFlow's ``tf.distribute``.

=================  ========================================================
``default``        one device: the GPU when there is one, else the CPU
``mirrored``       ``MirroredStrategy``: synchronous data parallelism over the
                   local GPUs (or ``--logical-cpus N`` CPU devices, for trying it
                   without GPUs)
``multiworker``    ``MultiWorkerMirroredStrategy`` across machines named by
                   ``TF_CONFIG``: refused for now, with the reason. Keras 3's
                   ``model.fit`` fails under it (keras-team/keras#20585: the
                   first-batch build and the per-step log reduction both break)
=================  ========================================================

``--batch-size`` is the *global* batch: each step splits it across all replicas.
rnnx does not rescale the learning rate; when you grow the global batch by a
factor k, the usual starting point is ``--lr`` times k (linear scaling), lowered
if the first epochs diverge.

>>> sorted(STRATEGIES)
['default', 'mirrored', 'multiworker']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable

from pipeline.errors import ConfigError


def _default(logical_cpus: int | None):
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
    if "TF_CONFIG" not in os.environ:
        raise ConfigError(
            "--strategy multiworker needs TF_CONFIG, e.g. "
            '\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
        )
    try:
        json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc.msg} at position {exc.pos})") from None
    raise ConfigError(
        "--strategy multiworker: Keras 3 model.fit cannot train under MultiWorkerMirroredStrategy "
        "(keras-team/keras#20585, still open in Keras 3.15); train on one machine with --strategy mirrored"
    )


STRATEGIES: dict[str, Callable] = {"default": _default, "mirrored": _mirrored, "multiworker": _multiworker}


@dataclass
class Distribution:
    name: str
    strategy: object
    replicas: int


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
    return Distribution(name, strategy, int(strategy.num_replicas_in_sync))
