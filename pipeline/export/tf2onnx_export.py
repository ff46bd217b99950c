"""The reference exporter: trace the Keras model with TensorFlow, convert with tf2onnx.

tf2onnx keeps the model's exact numerics but turns SimpleRNN, GRU and every
masked LSTM into ``Loop`` subgraphs (slow); :mod:`pipeline.export.fused` is the
fast path. Tracing happens on the CPU: with a GPU visible, Keras would pick the
cuDNN kernel (``CudnnRNNV3``), which tf2onnx cannot convert, so the conversion is
re-run in a child process with GPUs hidden.

Example (needs TensorFlow)::

    proto = export_tf2onnx(keras.saving.load_model("saved_models/pos/model.keras"))
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.errors import ExportError
from pipeline.export.contract import INPUT_NAME, OPSET, OUTPUT_NAME


def _rename_output(proto, new_name: str):
    import onnx

    graph = proto.graph
    if len(graph.output) != 1:
        raise ExportError(f"expected one model output, tf2onnx produced {len(graph.output)}")
    old = graph.output[0].name
    if old == new_name:
        return proto
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new_name
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new_name
    graph.output[0].name = new_name
    onnx.checker.check_model(proto)
    return proto


def _convert_here(model):
    from pipeline.keras_env import import_keras

    import_keras()
    import tensorflow as tf
    import tf2onnx

    with tf.device("/CPU:0"):
        fn = tf.function(lambda ids: model(ids, training=False))
        spec = [tf.TensorSpec([None, None], tf.int64, name=INPUT_NAME)]
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=OPSET)
    return _rename_output(proto, OUTPUT_NAME)


def export_tf2onnx(model, *, keras_path: str | Path | None = None):
    """Convert ``model`` and return an ``onnx.ModelProto`` (not yet finalized).

    ``keras_path`` (the saved ``.keras`` file) lets the conversion move to a
    GPU-free child process when a GPU is visible.
    """
    from pipeline.keras_env import gpu_names

    if not gpu_names() or os.environ.get("RNNX_IN_EXPORT_CHILD"):
        return _convert_here(model)
    if keras_path is None:
        raise ExportError("a GPU is visible and no saved .keras file was given to convert on the CPU")
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "RNNX_IN_EXPORT_CHILD": "1"}
        code = (
            "import sys, onnx\n"
            "from pipeline.keras_env import import_keras\n"
            "from pipeline.export.tf2onnx_export import export_tf2onnx\n"
            "m = import_keras().saving.load_model(sys.argv[1], compile=False)\n"
            "onnx.save(export_tf2onnx(m), sys.argv[2])\n"
        )
        result = subprocess.run([sys.executable, "-c", code, str(keras_path), str(out)], env=env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise ExportError(f"tf2onnx conversion on the CPU failed:\n{result.stderr[-2000:]}")
        return onnx.load(out)


def export_any_tf2onnx(model, *, opset: int = OPSET):
    """Any built Keras model through tf2onnx (a traced ``tf.function``), inputs and outputs named as in Keras.

    Not yet finalized. Runs on the CPU in this process (no GPU-free child: with a GPU
    visible, save the model and convert in a process with ``CUDA_VISIBLE_DEVICES=-1``).
    """
    import onnx

    from pipeline.export.fused import keras_input_names, keras_output_names
    from pipeline.export.fused.walk import functional_of
    from pipeline.keras_env import import_keras

    import_keras()
    import tensorflow as tf
    import tf2onnx

    functional = functional_of(model)
    in_names = keras_input_names(functional)
    out_names = keras_output_names(model, functional)
    spec = [tf.TensorSpec(kt.shape, kt.dtype, name=name) for kt, name in zip(functional.inputs, in_names)]

    def call(*xs):
        out = model(list(xs) if len(xs) > 1 else xs[0], training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    with tf.device("/CPU:0"):
        try:
            proto, _ = tf2onnx.convert.from_function(tf.function(call), input_signature=spec, opset=opset)
        except Exception as exc:  # tf2onnx raises many types; the user needs the first line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportError(f"tf2onnx could not convert model {model.name!r}: {first}") from exc
    renames = dict(zip([o.name for o in proto.graph.output], out_names))
    for node in proto.graph.node:
        node.output[:] = [renames.get(n, n) for n in node.output]
        node.input[:] = [renames.get(n, n) for n in node.input]
    for out in proto.graph.output:
        out.name = renames.get(out.name, out.name)
    onnx.checker.check_model(proto)
    return proto
