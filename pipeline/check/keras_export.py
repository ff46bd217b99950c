"""``rnnx check`` / ``rnnx bench`` for folders exported from a user's ``.keras`` file.

``check_keras_export`` reloads the Keras model the folder came from (refusing it
when the file changed since the export: its sha256 is in ``export.json``), runs
:func:`~pipeline.check.keras_model.check_keras_model` and writes ``parity.json``.
``bench_keras_export`` times ONNX Runtime (1 thread and all threads) against the
Keras model as a ``tf.function``, at batch 1 and 32, and writes ``bench.json``.

Example::

    report = check_keras_export("export/forecast", sample="held_out.npz")
    report["passed"], report["max_abs_diff"]
"""

from __future__ import annotations

from pathlib import Path


from pipeline.artifacts import read_json, write_json
from pipeline.errors import ConfigError, DataError

BENCH_SHAPES = ((1, 25), (32, 25))  # (batch, steps) where the time axis is free


def is_keras_export(folder: Path | str) -> bool:
    """Whether ``folder`` was exported from a ``.keras`` file (not from an rnnx run)."""
    from pipeline.export.keras_file import KIND

    info = Path(folder) / "export.json"
    return info.is_file() and read_json(info).get("kind") == KIND


def source_model(folder: Path | str, keras_file: Path | str | None = None):
    """``(model, info)``: the Keras model ``folder`` was exported from, checked against its sha256."""
    from pipeline.export.keras_file import load_keras_file, sha256_of

    folder = Path(folder)
    info = read_json(folder / "export.json")
    path = Path(keras_file or info["source"])
    if not path.is_file():
        raise DataError(f"{folder}: its Keras model {path} is gone; pass --keras-file PATH to compare with a copy")
    if sha256_of(path) != info["source_sha256"]:
        raise DataError(f"{path} changed since {folder} was exported from it (sha256 differs); export it again "
                        "with rnnx export")
    return load_keras_file(path), info


def check_keras_export(folder: Path | str, *, sample: Path | str | None = None, atol: float | None = None,
                       keras_file: Path | str | None = None) -> dict:
    """Parity of ``folder/model.onnx`` with its Keras model; writes and returns ``parity.json``."""
    from pipeline.check.keras_model import ATOL, check_keras_model, check_stream_model, read_sample

    folder = Path(folder)
    model, info = source_model(folder, keras_file)
    names = [i["name"] for i in info["inputs"]]
    arrays = read_sample(sample, names) if sample else None
    atol = ATOL if atol is None else atol
    report = check_keras_model(model, folder / "model.onnx", sample=arrays, atol=atol)
    report = {"model": str(folder / "model.onnx"), "source": info["source"], **report}
    stream = info.get("streaming")
    if stream:
        report["stream"] = check_stream_model(model, folder / stream["file"], atol=atol)
        report["passed"] = report["passed"] and report["stream"]["passed"]
        report["failures"] += report["stream"]["failures"]
    if sample:
        report["sample"] = str(sample)
    write_json(folder / "parity.json", report)
    return report


def _keras_function(model, n_inputs: int):
    """The model as a compiled ``tf.function`` (the fastest way Keras itself serves it on TensorFlow)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def call(*xs):
        return model(list(xs) if n_inputs > 1 else xs[0], training=False)

    return call


def bench_keras_export(folder: Path | str, *, calls: int = 50, keras_file: Path | str | None = None) -> dict:
    """Median latency (ms) of ORT and of Keras (a ``tf.function``) on generated right-padded batches.

    Writes and returns ``bench.json``.
    """
    import onnxruntime as ort

    from pipeline.check.bench import median_ms
    from pipeline.check.generated import make_batch

    if calls < 1:
        raise ConfigError(f"--calls must be >= 1, got {calls}")
    folder = Path(folder)
    model, info = source_model(folder, keras_file)
    names = [i["name"] for i in info["inputs"]]
    sessions = {}
    for label, threads in (("ort_1_thread", 1), ("ort_all_threads", 0)):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        sessions[label] = ort.InferenceSession(str(folder / "model.onnx"), options,
                                               providers=["CPUExecutionProvider"])
    rows = []
    for batch, steps in BENCH_SHAPES:
        feeds = make_batch(model, batch=batch, time=steps, padding="right", seed=1)
        inputs = [feeds[n] for n in names]
        row = {"batch": batch, "steps": steps}
        for label, sess in sessions.items():
            row[label] = median_ms(lambda s=sess: s.run(None, dict(zip(names, inputs))), calls)
        keras_fn = _keras_function(model, len(inputs))
        row["keras_tf_function"] = median_ms(lambda: keras_fn(*inputs), calls)
        row["speedup_ort_1_thread_vs_keras"] = row["keras_tf_function"] / row["ort_1_thread"]
        rows.append(row)
    report = {"model": str(folder / "model.onnx"), "unit": "ms (median)", "rows": rows}
    write_json(folder / "bench.json", report)
    return report


def format_keras_bench(report: dict) -> str:
    """The bench report as a table for people."""
    lines = ["| batch | steps | ORT 1 thread | ORT all threads | Keras tf.function | speed-up (1 thread) |",
             "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['batch']} | {r['steps']} | {r['ort_1_thread']:.3f} | {r['ort_all_threads']:.3f} | "
                     f"{r['keras_tf_function']:.3f} | {r['speedup_ort_1_thread_vs_keras']:.1f}x |")
    return "\n".join(lines)


def format_keras_parity(report: dict) -> str:
    """The parity report as lines for people."""
    head = "PASS" if report["passed"] else "FAIL"
    lines = [f"{head}: max |keras - onnx| = {report['max_abs_diff']:.3g} (tolerance {report['atol']:g}) over "
             f"{len(report['batches'])} batches"]
    lines += [f"  output {k}: {v:.3g}" for k, v in report["max_abs_diff_per_output"].items()]
    if report.get("stream"):
        stream = report["stream"]
        lines.append(f"  model.stream.onnx fed in chunks of {', '.join(map(str, stream['chunks']))}: max |keras - "
                     f"stream| = {stream['max_abs_diff']:.3g}")
    lines += [f"  {f}" for f in report["failures"][:10]]
    return "\n".join(lines)
