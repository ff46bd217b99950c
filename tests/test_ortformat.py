"""ORT format: conversion, the reduced-build operator config, the mobile verdict, same answers."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import ExportError


@pytest.fixture(scope="module")
def converted(tmp_path_factory, corpus_files, trained_export, copy_export_fn):
    from pipeline.export.ortformat import convert_to_ort
    from pipeline.export.textmodel import write_text_models

    folder = copy_export_fn(trained_export("tagger"), tmp_path_factory.mktemp("ort"))
    write_text_models(folder)
    return folder, convert_to_ort(folder)


@pytest.mark.slow
def test_every_model_is_converted_and_answers_the_same(converted):
    folder, report = converted
    assert set(report["files"]) == {"model.ort", "model.text.ort"}
    for name, entry in report["files"].items():
        assert (folder / name).stat().st_size == entry["bytes"] > 0
        assert entry["passed"] and entry["max_abs_diff"] <= 1e-6 and entry["label_mismatches"] == 0


@pytest.mark.slow
def test_ort_file_runs_real_sentences_like_the_onnx_file(converted, corpus_files):
    from pipeline.data.readers import read_file
    from pipeline.runtime.session import make_session
    from pipeline.runtime.text import pad_tokens

    folder, _ = converted
    sentences = read_file(corpus_files["tagging"]["test"]).tokens[:16]
    x = pad_tokens(sentences)
    a = make_session(folder / "model.text.onnx").run(None, {"tokens": x})
    b = make_session(folder / "model.text.ort").run(None, {"tokens": x})
    assert (a[0] == b[0]).all()
    np.testing.assert_allclose(a[1], b[1], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_operator_config_lists_the_string_ops_without_temporary_paths(converted):
    folder, report = converted
    text = (folder / "required_operators.config").read_text()
    assert "/tmp" not in text and "# - model.text.ort" in text
    ops = report["operators"]
    assert "LabelEncoder" in ops["ai.onnx.ml;2"]
    assert any("StringNormalizer" in names for key, names in ops.items() if key.startswith("ai.onnx;"))


@pytest.mark.slow
def test_mobile_usability_verdict_is_recorded(converted):
    _, report = converted
    verdict = report["mobile_usability"]["model.onnx"]
    assert verdict["verdict"] != "no verdict printed"
    assert len(verdict["details"]) >= 2 and all(d.endswith(("YES", "NO", "MAYBE")) for d in verdict["details"])
    assert isinstance(verdict["nnapi_or_coreml_recommended"], bool)


def test_missing_model_is_a_clear_error(tmp_path):
    from pipeline.export.ortformat import convert_to_ort

    with pytest.raises(ExportError, match="run `rnnx export` first"):
        convert_to_ort(tmp_path)
