"""The interface every exported rnnx model has, whichever engine built it.

* input ``ids``: int64 ``[batch, time]``, token ids, **right-padded** with 0
  (id 1 is the unknown word). Rows may have length 0 (all padding).
* output ``probs``: float32, ``[batch, time, labels]`` for taggers (one
  distribution per token) or ``[batch, labels]`` for classifiers.
* opset :data:`OPSET` and IR version :data:`IR_VERSION`, which ONNX Runtime 1.16+
  and onnxruntime-node 1.30 load.
* metadata properties (``onnx.ModelProto.metadata_props``): see :func:`finalize`.

>>> OPSET, IR_VERSION, INPUT_NAME, OUTPUT_NAME
(17, 8, 'ids', 'probs')
"""

from __future__ import annotations

import json

INPUT_NAME = "ids"
OUTPUT_NAME = "probs"
OPSET = 17
IR_VERSION = 8  # opset 17 needs IR >= 8; ORT 1.16 reads up to 9, onnxruntime-node 1.30 up to 13

INPUT_DOC = (
    "int64 [batch, time] token ids, right-padded with 0 (padding); id 1 is the unknown word. "
    "Padding must be at the end of each row."
)


def output_doc(task: str) -> str:
    if task == "tagging":
        return "float32 [batch, time, labels]: per-token label probabilities; rows of padding are not meaningful"
    return "float32 [batch, labels]: label probabilities per text"


def finalize(model, metadata: dict[str, object]):
    """Pin the IR version, attach docs and metadata, and run the full checker.

    ``metadata`` values that are not strings are stored as JSON.
    """
    import onnx

    model.ir_version = IR_VERSION
    write_metadata(model, metadata)
    model.producer_name = "rnnx"
    for inp in model.graph.input:
        if inp.name == INPUT_NAME:
            inp.doc_string = INPUT_DOC
    task = str(metadata.get("task", ""))
    for out in model.graph.output:
        if out.name == OUTPUT_NAME:
            out.doc_string = output_doc(task)
    onnx.checker.check_model(model, full_check=True)
    return model


def write_metadata(model, metadata: dict[str, object]) -> None:
    """Replace ``model``'s metadata properties by ``metadata``, sorted by key; non-strings stored as JSON.

    >>> import onnx
    >>> m = onnx.ModelProto(); write_metadata(m, {"task": "tagging", "labels": ["A", "B"]})
    >>> [(e.key, e.value) for e in m.metadata_props], read_metadata(m)["labels"]
    ([('labels', '["A", "B"]'), ('task', 'tagging')], ['A', 'B'])
    """
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)


def read_metadata(model) -> dict[str, object]:
    """Inverse of :func:`finalize`'s metadata encoding (JSON values decoded)."""
    out: dict[str, object] = {}
    for entry in model.metadata_props:
        try:
            out[entry.key] = json.loads(entry.value)
        except (json.JSONDecodeError, ValueError):
            out[entry.key] = entry.value
    return out
