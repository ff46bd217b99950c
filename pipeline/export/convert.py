"""``to_onnx``: any built Keras recurrent model -> a finalized ONNX model, in memory.

The public Python entry point for models users bring (text, time series, sensor
or audio features). The fused engine writes one ONNX ``RNN``/``GRU``/``LSTM`` op
per recurrent layer; the graph's inputs and outputs are named, ordered and typed
as ``model.inputs`` / ``model.outputs`` (float inputs stay float32, int32 stays
int32), ``initial_state`` inputs and ``return_state`` outputs included. Masks of
any shape (left padding from ``keras.utils.pad_sequences``, holes) give Keras's
answer at every step, masked steps included. Anything that cannot be converted
exactly raises :class:`~pipeline.errors.ExportError` naming the layer and why;
nothing is written.

>>> import keras, numpy as np, onnxruntime as ort
>>> frames = keras.Input((None, 4), name="frames")
>>> x = keras.layers.Masking()(frames)
>>> x = keras.layers.GRU(8)(x)
>>> model = keras.Model(frames, keras.layers.Dense(2, name="score")(x))
>>> proto = to_onnx(model)
>>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
(['frames'], ['score'])
>>> batch = np.zeros((2, 5, 4), np.float32); batch[0, 2:] = 1.0   # row 0 left-padded, row 1 empty
>>> got = ort.InferenceSession(proto.SerializeToString()).run(None, {"frames": batch})[0]
>>> bool(np.abs(got - model(batch)).max() < 1e-5)
True
"""

from __future__ import annotations

from typing import Callable

from pipeline.errors import ExportError
from pipeline.export.contract import OPSET, finalize


def _fused(model, *, opset: int, masks: str, simplernn: str, streaming: bool):
    from pipeline.export.fused import convert

    return convert(model, opset=opset, io="keras", masks=masks, simplernn=simplernn, streaming=streaming)


def _tf2onnx(model, *, opset: int, masks: str, simplernn: str, streaming: bool):
    from pipeline.export.tf2onnx_export import export_any_tf2onnx

    if streaming:
        raise ExportError("the tf2onnx engine writes no state inputs or outputs; streaming exports use the fused "
                          "engine")
    return export_any_tf2onnx(model, opset=opset)


ENGINES: dict[str, Callable] = {"fused": _fused, "tf2onnx": _tf2onnx}


def to_onnx(model, *, engine: str = "fused", opset: int = OPSET, masks: str = "exact", simplernn: str = "auto",
            streaming: bool = False, metadata: dict | None = None):
    """Convert a built Functional or Sequential Keras ``model``; returns a finalized ``onnx.ModelProto``.

    ``engine``: ``"fused"`` (default; one ONNX recurrent op per layer) or
    ``"tf2onnx"`` (traces the model with TensorFlow; slower graphs, for layers the
    fused engine refuses). ``masks``: ``"exact"`` (default, any mask) or
    ``"right"`` (you promise right-padded masks: a little faster, and masked steps
    of sequence outputs are 0 instead of Keras's carried values). ``streaming``:
    a graph that reads one chunk of steps and carries every recurrent state in
    (``state_in.<layer>.<h|c>``, zeros to start) and out (``state_out...``); see
    :mod:`pipeline.export.fused.streaming`. ``metadata``: extra ``metadata_props``
    (values that are not strings are stored as JSON).

    Save it with ``onnx.save(proto, "model.onnx")``; ``rnnx export model.keras``
    does that and checks parity against Keras too.
    """
    if engine not in ENGINES:
        raise ExportError(f"engine={engine!r} is not known; choose one of {', '.join(ENGINES)}")
    if not getattr(model, "built", True) or not getattr(model, "inputs", None):
        raise ExportError(f"model {getattr(model, 'name', '?')!r} is not built: start it with keras.Input(...) "
                          "or call it on a batch once before converting")
    proto = ENGINES[engine](model, opset=opset, masks=masks, simplernn=simplernn, streaming=streaming)
    meta = {"engine": engine, "source_model": model.name, "masks": masks if engine == "fused" else "exact",
            "streaming": streaming}
    return finalize(proto, {**meta, **(metadata or {})})
