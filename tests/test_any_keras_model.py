"""Any Keras recurrent model in, fused ONNX out (issue 12): parity over public models.

Every case of :mod:`public_cases` (models re-created from tensorflow-onnx's tests and
the keras-io examples and guides) is exported with :func:`pipeline.export.to_onnx`
and run in ONNX Runtime on three batches (batch 1 unpadded; then two batches with
the case's padding kinds: right, left, holed masks and empty rows, and different
batch sizes and lengths). Every output is compared with Keras
(``model(inputs, training=False)``) at every position, fed and read by position:
max abs diff <= 1e-5.

A case the exporter must refuse is listed in :data:`REFUSED` with a substring of
the reason: the test then asserts :class:`~pipeline.errors.ExportError` with that
substring, so a silent wrong answer (or converting it anyway) fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # reference values without oneDNN's reordered sums

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from public_cases import CASES  # noqa: E402

from pipeline.errors import ExportError  # noqa: E402

TOLERANCE = 1e-5

# keras-io's TemporalSoftmax takes a mask without declaring supports_masking, as in the guide
pytestmark = pytest.mark.filterwarnings("ignore:Layer 'temporal_softmax':UserWarning")

# case id -> substring of the ExportError message the exporter must raise
REFUSED = {
    "tf2onnx-test_layers-test_LSTM_seqlen_none-stateful": "stateful",
    "keras-io-working_with_rnns-stateful": "stateful",
    "tf2onnx-test_layers-test_masking_custom": "MyPoolingMask",
    "keras-io-working_with_rnns-custom_cell": "MinimalRNNCell",
    "keras-io-understanding_masking-my_activation": "MyActivation",
    "keras-io-understanding_masking-temporal_softmax": "TemporalSoftmax",
    "tf2onnx-test_layers-test_keras_lambda-lstm": "Lambda",
}


def _to_onnx():
    import pipeline.export as export

    fn = getattr(export, "to_onnx", None)
    if fn is None:  # until the lead's public API lands
        from pipeline.export.fused import convert as fn
    return fn


def runs(case):
    """(batch, time, padding) of the three batches a case is checked on."""
    first, last = case.paddings[0], case.paddings[-1]
    return [(1, 7, "none"), (3, 12, first), (5, 5, last)]


def keras_outputs(model, xs) -> list[np.ndarray]:
    import keras

    out = model(xs[0] if len(xs) == 1 else xs, training=False)
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(out)]


def ort_session(proto):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])


def ort_outputs(sess, xs) -> list[np.ndarray]:
    names = [i.name for i in sess.get_inputs()]
    assert len(names) == len(xs), f"ONNX graph has {len(names)} inputs {names}; the Keras model has {len(xs)}"
    return sess.run(None, dict(zip(names, xs)))


def compare(case_id, run, want: list, got: list) -> None:
    assert len(got) == len(want), f"{case_id} {run}: ONNX gives {len(got)} outputs, Keras {len(want)}"
    for i, (w, g) in enumerate(zip(want, got)):
        assert g.shape == w.shape, f"{case_id} {run}: output {i} shape {g.shape}, Keras {w.shape}"
        diff = float(np.abs(g.astype(np.float64) - w.astype(np.float64)).max()) if w.size else 0.0
        assert diff <= TOLERANCE, f"{case_id} {run}: output {i} max abs diff {diff:.3g} > {TOLERANCE}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_public_model(case):
    from pipeline.export.fused import unsupported_layers

    model = case.model()
    to_onnx = _to_onnx()
    problems = unsupported_layers(model, io="keras")  # must agree with to_onnx, before anything is converted
    if case.id in REFUSED:
        assert problems and REFUSED[case.id] in problems[0], problems
        with pytest.raises(ExportError) as info:
            to_onnx(model)
        message = str(info.value)
        assert "\n" not in message.strip(), f"ExportError spans several lines: {message!r}"
        assert REFUSED[case.id] in message, f"refused for another reason: {message}"
        return
    assert problems == [], problems
    proto = to_onnx(model)
    engine = {m.key: m.value for m in proto.metadata_props}.get("engine")
    assert engine in (None, "fused"), f"to_onnx used the {engine} engine, not the fused one"
    sess = ort_session(proto)
    rng = np.random.default_rng(0)
    for run in runs(case):
        xs = case.inputs(rng, *run, model=model)
        compare(case.id, run, keras_outputs(model, xs), ort_outputs(sess, xs))


def test_registry_cites_sources():
    """Every case names where it comes from and what it exercises; refusals name real cases."""
    ids = {c.id for c in CASES}
    assert len(ids) == len(CASES) >= 65
    assert set(REFUSED) <= ids
    for c in CASES:
        assert c.what and c.source.split()[0] in {"tensorflow-onnx", "keras-io", "keras", "tensorflow-docs"}, c.id
