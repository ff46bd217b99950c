"""Parity of any Keras model with its ONNX export: every output, every position, every padding.

Inputs are generated from the model's own layers (:mod:`pipeline.check.generated`:
right, left, holed and empty padding where an input is masked, batch 1 to 16) and,
when the user has them, read from a ``.npz`` of real inputs. Each output of ONNX
Runtime is compared with Keras's at every position Keras computes (masked steps
included: the fused exporter gives Keras's values there too).

>>> import keras
>>> from pipeline.export import to_onnx
>>> x = keras.Input((None, 3), name="x")
>>> model = keras.Model(x, keras.layers.SimpleRNN(4, name="h")(keras.layers.Masking()(x)))
>>> report = check_keras_model(model, to_onnx(model))
>>> report["passed"], report["outputs"], report["max_abs_diff"] < 1e-5
(True, ['h'], True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.check.results import ShapeFailure, ToleranceFailure, raise_failures
from pipeline.errors import DataError

ATOL = 1e-4
SAMPLE_ROWS = 64  # rows of a --sample file run per call


def _session(proto_or_path):
    import onnxruntime as ort

    data = str(proto_or_path) if isinstance(proto_or_path, (str, Path)) else proto_or_path.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def keras_outputs(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """``model``'s outputs for ``inputs`` (in ``model.inputs`` order) as float/int numpy arrays."""
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    out = list(out) if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in out]


def read_sample(path: Path | str, names: list[str]) -> dict[str, np.ndarray]:
    """Arrays of a ``.npz`` for the model inputs ``names``: keyed by input name, or ``arr_0``... in order."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"--sample {path}: not a readable .npz file ({exc}); save one with "
                        "numpy.savez(path, **{input_name: array})") from None
    if all(n in arrays for n in names):
        return {n: arrays[n] for n in names}
    positional = [f"arr_{i}" for i in range(len(names))]
    if all(p in arrays for p in positional):
        return dict(zip(names, (arrays[p] for p in positional)))
    raise DataError(f"--sample {path} holds {sorted(arrays)}; the model reads {names}: save one array per input "
                    "under its name (numpy.savez(path, **{name: array}))")


def _chunks(sample: dict[str, np.ndarray], rows: int):
    n = min(len(a) for a in sample.values())
    for start in range(0, n, rows):
        yield {k: a[start:start + rows] for k, a in sample.items()}


def check_keras_model(model, onnx_model, *, sample: dict[str, np.ndarray] | None = None, atol: float = ATOL,
                      seed: int = 0, raise_on_failure: bool = False) -> dict:
    """Compare ``model`` with ``onnx_model`` (a ``ModelProto`` or a path) on generated and sample inputs.

    Returns the report ``rnnx check`` writes to ``parity.json``: ``passed``,
    ``max_abs_diff``, per-output maxima, the batches compared and ``failures``.
    With ``raise_on_failure`` a failing comparison raises
    :class:`~pipeline.errors.ParityError` listing them.
    """
    from pipeline.check.generated import standard_batches

    sess = _session(onnx_model)
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    batches = standard_batches(model, seed=seed)
    if sample is not None:
        batches += [(f"sample rows {i * SAMPLE_ROWS}-{i * SAMPLE_ROWS + len(next(iter(c.values()))) - 1}", c)
                    for i, c in enumerate(_chunks(sample, SAMPLE_ROWS))]
    per_output = {name: 0.0 for name in out_names}
    failures, compared = [], []
    for desc, feeds in batches:
        inputs = [np.asarray(feeds[n]) for n in in_names]
        want = keras_outputs(model, inputs)
        got = sess.run(None, dict(zip(in_names, inputs)))
        for name, w, g in zip(out_names, want, got):
            if w.shape != g.shape:
                failures.append(ShapeFailure(f"{desc}, output {name}", w.shape, g.shape))
                continue
            diff = float(np.abs(w.astype(np.float64) - g.astype(np.float64)).max()) if w.size else 0.0
            per_output[name] = max(per_output[name], diff)
            if not diff <= atol:  # NaN fails too
                failures.append(ToleranceFailure(f"{desc}, output {name}", "keras - onnx", diff, atol))
        compared.append(desc)
    report = {
        "passed": not failures,
        "atol": atol,
        "max_abs_diff": max(per_output.values(), default=0.0),
        "max_abs_diff_per_output": per_output,
        "outputs": out_names,
        "inputs": in_names,
        "batches": compared,
        "sample_rows": int(min(len(a) for a in sample.values())) if sample else 0,
        "failures": [str(f) for f in failures],
    }
    if raise_on_failure:
        raise_failures("ONNX Runtime disagrees with Keras", failures)
    return report


STREAM_CHUNKS = (1, 3)  # chunk sizes a stream model is fed in


def stream_outputs(session, inputs: list[np.ndarray], chunk: int) -> list[np.ndarray]:
    """A stream model's outputs for whole ``inputs``, fed ``chunk`` steps at a time from zero states."""
    from pipeline.runtime.stream import Stream

    stream = Stream("the stream model", batch=len(inputs[0]), session=session)
    parts: list[list[np.ndarray]] = [[] for _ in stream.output_names]
    steps = inputs[0].shape[1]
    for start in range(0, steps, chunk):
        got = stream.push([x[:, start:start + chunk] for x in inputs] if len(inputs) > 1 else
                          inputs[0][:, start:start + chunk])
        for i, name in enumerate(stream.output_names):
            parts[i].append(got[name])
    return [np.concatenate(p, axis=1) for p in parts]


def check_stream_model(model, onnx_model, *, atol: float = ATOL, seed: int = 0) -> dict:
    """Feed generated batches to a stream model in chunks of 1 and 3 steps; compare with Keras on whole sequences.

    Sequence outputs are compared at every step; an output Keras gives once per
    sequence is compared with the stream's running output at the last step.
    """
    from pipeline.check.generated import standard_batches

    sess = _session(onnx_model)
    names = [i.name for i in sess.get_inputs() if not i.name.startswith("state_in.")]
    out_names = [o.name for o in sess.get_outputs() if not o.name.startswith("state_out.")]
    failures, worst = [], 0.0
    batches = [(d, b) for d, b in standard_batches(model, seed=seed) if next(iter(b.values())).shape[1] > 1]
    for desc, feeds in batches:
        inputs = [np.asarray(feeds[n]) for n in names]
        want = keras_outputs(model, inputs)
        for chunk in STREAM_CHUNKS:
            for name, w, g in zip(out_names, want, stream_outputs(sess, inputs, chunk)):
                if g.ndim == w.ndim + 1:
                    g = g[:, -1]
                where = f"{desc}, chunks of {chunk}, output {name}"
                if w.shape != g.shape:
                    failures.append(ShapeFailure(where, w.shape, g.shape))
                    continue
                diff = float(np.abs(w.astype(np.float64) - g).max()) if w.size else 0.0
                worst = max(worst, diff)
                if not diff <= atol:
                    failures.append(ToleranceFailure(where, "keras - stream", diff, atol))
    return {"passed": not failures, "atol": atol, "max_abs_diff": worst, "chunks": list(STREAM_CHUNKS),
            "batches": [d for d, _ in batches], "failures": [str(f) for f in failures]}
