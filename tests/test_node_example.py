"""examples/node/tag.js (onnxruntime-node) gives Python's labels and probabilities on held-out sentences.

Skipped only where ``node`` is not installed. ``npm install --ignore-scripts --no-package-lock``
runs in examples/node when its node_modules is missing (git-ignored; the install script of
onnxruntime-node is skipped because it reaches outside the package registry).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (needed for the JavaScript example)")


@pytest.fixture(scope="module")
def node_example():
    from pipeline.check.node import install_example

    return install_example()


def run_node(script: Path, model: Path, items) -> dict:
    from pipeline.check import node as node_check

    return node_check.run_node(model, items, script)


@pytest.fixture(scope="module")
def text_exports(tmp_path_factory, corpus_files, trained_export, copy_export_fn):
    from pipeline.export.textmodel import write_text_models

    out = {}
    for kind in ("tagger", "classifier"):
        folder = copy_export_fn(trained_export(kind), tmp_path_factory.mktemp(f"js-{kind}"))
        write_text_models(folder)
        out[kind] = folder
    return out


def python_side(model_path: Path, sentences):
    """The same single padded batch through Python's onnxruntime."""
    from pipeline.runtime.text import TextModel, pad_tokens

    return TextModel(model_path).run(pad_tokens(sentences))


@pytest.mark.slow
def test_node_tags_like_python(node_example, text_exports, corpus_files):
    from pipeline.data.readers import read_file

    sentences = [s for s in read_file(corpus_files["tagging"]["test"]).tokens if len(s) > 0][:40]
    model = text_exports["tagger"] / "model.text.onnx"
    js = run_node(node_example, model, sentences)
    py = python_side(model, sentences)
    assert js["task"] == "tagging" and len(js["results"]) == len(sentences)
    for row, (tokens, res) in enumerate(zip(sentences, js["results"])):
        assert res["tokens"] == tokens
        assert res["tags"] == py["tags"][row, : len(tokens)].tolist()
        np.testing.assert_allclose(np.asarray(res["probs"]), py["probs"][row, : len(tokens)], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_node_classifies_like_python(node_example, text_exports, corpus_files):
    from pipeline.data.readers import read_file

    texts = read_file(corpus_files["classification"]["test"]).tokens[:40]
    model = text_exports["classifier"] / "model.text.onnx"
    js = run_node(node_example, model, texts)
    py = python_side(model, texts)
    assert js["task"] == "classification"
    assert [r["label"] for r in js["results"]] == py["label"].tolist()
    np.testing.assert_allclose(np.asarray([r["probs"] for r in js["results"]]), py["probs"], atol=1e-6, rtol=0)
    # a string item is split on whitespace by tag.js
    same = run_node(node_example, model, [" ".join(texts[0])])["results"][0]
    assert same["tokens"] == texts[0] and same["label"] == js["results"][0]["label"]


def test_node_rejects_bad_input(node_example, tmp_path):
    script = node_example
    result = subprocess.run([NODE, str(script), str(tmp_path / "missing.onnx")], input="[]", capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "usage: node tag.js" in result.stderr


@pytest.mark.slow
def test_check_node_example_records_agreement(text_exports):
    import json

    from pipeline.check.node import check_node_example

    report = check_node_example(text_exports["tagger"], limit=30)
    assert report["passed"] and report["label_mismatches"] == 0 and report["sequences"] == 30
    saved = json.loads((text_exports["tagger"] / "parity.json").read_text())["examples/node"]
    assert saved["max_abs_diff"] == report["max_abs_diff"] <= 1e-6
