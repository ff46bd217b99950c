"""Importing Keras the way rnnx needs it: TensorFlow backend unless the user chose
another, TensorFlow's C++ start-up chatter silenced, and device facts at hand.

Only the training and export stages import Keras; the runtime never does.

TensorFlow writes its start-up lines ("oneDNN custom operations are on", "Could not
find cuda drivers") from C++ before its logging is set up, where no environment
variable reaches them. :func:`quiet_startup` (called by the ``rnnx`` command
before anything imports TensorFlow; ``--verbose`` skips it) sets the log-level
variables and runs TensorFlow's first import with file descriptor 2 captured:
those known start-up lines are dropped and anything else is passed on.

>>> keras = import_keras()
>>> keras.backend.backend() in ("tensorflow", "jax", "torch")
True
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile


#: lines TensorFlow prints while it starts; dropped unless --verbose
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*"
    r"|E\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*(cuda|cuDNN|cuFFT|cuBLAS|computation placer|TensorRT).*)$")


def quiet_startup(verbose: bool = False) -> None:
    """Keep TensorFlow quiet in this process unless ``verbose`` (or ``RNNX_VERBOSE=1``).

    Must run before TensorFlow is first imported; does nothing if it already was.
    """
    if verbose or os.environ.get("RNNX_VERBOSE", "") not in ("", "0"):
        os.environ["RNNX_VERBOSE"] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImport())


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, through the other finders, and runs its import with fd 2 captured."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            with _startup_lines_dropped():
                run(module)

        spec.loader.exec_module = exec_module
        return spec


@contextlib.contextmanager
def _startup_lines_dropped():
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except ValueError:
                pass
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [ln for ln in captured.read().decode("utf-8", "replace").splitlines()
                    if ln.strip() and not STARTUP_NOISE.match(ln)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def import_keras():
    """Return the ``keras`` module, configured for rnnx."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow sees (empty on a CPU-only machine)."""
    import_keras()
    try:
        import tensorflow as tf
    except ImportError:
        return []
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def device_summary() -> str:
    gpus = gpu_names()
    return f"GPU: {', '.join(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores, no GPU visible)"
