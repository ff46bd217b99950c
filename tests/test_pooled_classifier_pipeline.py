"""A max-pooled classifier trained with word dropout, end to end on real review snippets.

Both options change only the Keras graph (training-only ids noise, a pooling layer),
so every deployment variant must still come out: model.onnx, the text model with
the tokenizer inside, int8; all checked against Keras.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.export.exporter import export_run
from pipeline.check.parity import check_export
from pipeline.models import ModelConfig
from pipeline.train.fit import RunSpec, TrainOptions, train


@pytest.fixture(scope="module")
def pooled(tmp_path_factory, mr_files):
    root = tmp_path_factory.mktemp("pooled")
    spec = RunSpec(name="pooled", data=str(mr_files["train"]), dev=str(mr_files["dev"]), test=str(mr_files["test"]),
                   model=ModelConfig("classification", "gru", bidirectional=True, units=12, embedding_dim=12,
                                     dropout=0.1, word_dropout=0.1, pooling="max"),
                   options=TrainOptions(epochs=2, batch_size=32, learning_rate=0.01, verbose=0))
    run = train(spec, root=root / "saved_models")
    return run, export_run(run, out_root=root / "export", quantize="int8").folder


def test_run_records_the_options_and_the_model_has_the_layers(pooled):
    from pipeline.train.rundir import load_run

    run, _ = pooled
    model = json.loads((run / "config.json").read_text())["model"]
    assert model["pooling"] == "max" and model["word_dropout"] == pytest.approx(0.1)
    names = [layer.name for layer in load_run(run).model.layers]
    assert "word_dropout" in names and "max_pooling" in names


def test_every_variant_exports_and_passes_parity(pooled):
    _, folder = pooled
    assert (folder / "model.text.onnx").exists() and (folder / "model.int8.onnx").exists()
    report = check_export(folder, random_count=3)
    assert report["passed"], report["failures"]
    assert report["heldout"]["max_abs_diff"] < 1e-4
    assert report["heldout"]["label_agreement"] == 1.0


def test_text_model_gives_the_word_model_answers(pooled):
    from pipeline.runtime.session import Classifier, make_session
    from pipeline.runtime.text import pad_tokens

    _, folder = pooled
    clf = Classifier.load(folder)
    texts = [clf.tokenize(t) for t in ("a quietly devastating film .", "dull , lifeless and far too long .")]
    want = np.array([[p[n] for n in clf.labels.names] for _, p in clf.predict_tokens(texts)])
    labels, probs, _ = make_session(folder / "model.text.onnx").run(None, {"tokens": pad_tokens(texts)})
    np.testing.assert_allclose(probs, want, atol=1e-5)
    assert list(labels) == [max(p, key=p.get) for _, p in clf.predict_tokens(texts)]


def test_tf2onnx_engine_exports_the_same_model(pooled, tmp_path):
    """The reference exporter traces the inference graph: word dropout is gone, pooling converts."""
    run, _ = pooled
    folder = export_run(run, out_root=tmp_path, engine="tf2onnx", text=False).folder
    assert json.loads((folder / "export.json").read_text())["engine"] == "tf2onnx"
    report = check_export(folder, random_count=2)
    assert report["passed"], report["failures"]
    assert report["heldout"]["label_agreement"] == 1.0
