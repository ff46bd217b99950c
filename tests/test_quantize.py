"""int8 dynamic quantization: what gets quantized, that the result loads, the accuracy gate, the bench."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.errors import ConfigError, ParityError


@pytest.fixture(scope="module")
def quantized(tmp_path_factory, corpus_files, trained_export, copy_export_fn):
    from pipeline.export.quantize import quantize_model

    src = trained_export("tagger")
    folder = copy_export_fn(src, tmp_path_factory.mktemp("int8"))
    return folder, quantize_model(folder)


@pytest.mark.slow
def test_quantized_model_is_smaller_and_counts_what_was_quantized(quantized):
    import onnx

    from pipeline.export.quantize import count_ops

    folder, report = quantized
    assert report["bytes"] < 0.6 * report["float_bytes"]
    assert report["quantized"]["Gather"] == 1  # the embedding table
    assert report["quantized"]["MatMul"] + report["quantized"]["LSTM"] > 0
    model = onnx.load(folder / "model.int8.onnx")
    ops = count_ops(model.graph)
    assert ops["MatMulInteger"] + ops["DynamicQuantizeLSTM"] > 0
    assert model.ir_version == 8 and {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 17
    meta = {p.key: json.loads(p.value) if p.value.startswith(("{", "[")) else p.value for p in model.metadata_props}
    assert meta["quantization"]["weights"] == "int8" and meta["task"] == "tagging"


@pytest.mark.slow
def test_int8_model_loads_with_default_optimisations(quantized):
    """ORT 1.32 aborts on quantize_dynamic's Gather -> DequantizeLinear unless it is rewritten."""
    import onnx

    folder, report = quantized
    assert report["gather_dequantize_rewritten"] == 1
    model = onnx.load(folder / "model.int8.onnx")
    gathered = {o for n in model.graph.node if n.op_type == "Gather" for o in n.output}
    assert not [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in gathered]
    code = ("import sys, numpy as np, onnxruntime as ort\n"
            "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
            "print(s.run(None, {'ids': np.array([[2, 3, 4, 0]])})[0].shape)\n")
    result = subprocess.run([sys.executable, "-c", code, str(folder / "model.int8.onnx")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip().startswith("(1, 4,")


@pytest.mark.slow
def test_accuracy_gate_passes_and_can_fail(quantized):
    from pipeline.check.int8 import check_quantized

    folder, _ = quantized
    report = check_quantized(folder)
    assert report["passed"] and report["accuracy_drop_points"] <= 0.5
    assert report["label_agreement"] > 0.9 and report["heldout"]["positions"] > 1000
    assert json.loads((folder / "parity.json").read_text())["model.int8.onnx"]["passed"] is True
    with pytest.raises(ParityError, match="points below float32"):
        check_quantized(folder, max_drop_points=-100.0, write=False)


@pytest.mark.slow
def test_bench_compares_size_and_latency(quantized):
    from pipeline.check.bench import format_bench
    from pipeline.check.int8 import bench_quantized

    folder, _ = quantized
    report = bench_quantized(folder, budget_s=0.05)
    assert [r["batch"] for r in report["rows"]] == [1, 32]
    for row in report["rows"]:
        assert row["float32-ort-1t"]["p50_ms"] > 0 and row["int8-ort-1t"]["p50_ms"] > 0
    assert report["size_ratio"] < 0.6
    assert "int8-ort-1t" in format_bench(report)
    assert "model.int8.onnx" in json.loads((folder / "bench.json").read_text())


@pytest.mark.slow
def test_deploy_writes_and_checks_int8_variants(tmp_path_factory, corpus_files, trained_export, copy_export_fn):
    from pipeline.check.verify import check_deploy_artifacts
    from pipeline.export.deploy import add_deploy_artifacts
    from pipeline.export.modelcard import write_model_card

    folder = copy_export_fn(trained_export("classifier"), tmp_path_factory.mktemp("dep"))
    with pytest.raises(ConfigError, match="choose int8"):
        add_deploy_artifacts(folder, quantize="int4")
    report = add_deploy_artifacts(folder, text=True, quantize="int8")
    assert set(report["artifacts"]) == {"model.onnx", "model.text.onnx", "model.rawtext.onnx", "model.int8.onnx",
                                        "model.int8.text.onnx"}
    assert report["artifacts"]["model.rawtext.onnx"]["ir_version"] == 9
    notes = " ".join(report["quantization"]["notes"])
    if report["quantization"]["ops_float32_model"].get("GRU"):
        assert "GRU op(s) stay float32" in notes
    checks = check_deploy_artifacts(folder)
    assert {"model.text.onnx", "model.rawtext.onnx", "model.int8.onnx", "model.int8.text.onnx"} <= set(checks)
    assert json.loads((folder / "deploy.json").read_text())["options"]["quantize"] == "int8"
    card = write_model_card(folder).read_text()
    for needle in ("## Accuracy", "## Parity", "model.int8.onnx", "## Inputs and outputs", "`tokens`",
                   "node tag.js", "ort.InferenceSession"):
        assert needle in card


@pytest.mark.slow
def test_int8_text_model_runs_without_shape_warnings(quantized, capfd):
    """The inlined int8 model sees one extra padding column; its symbolic dims must not clash with ours."""
    import numpy as np
    import onnxruntime as ort

    from pipeline.export.textmodel import write_text_models

    folder, _ = quantized
    assert list(write_text_models(folder, source="model.int8.onnx", raw=False)) == ["model.int8.text.onnx"]
    sess = ort.InferenceSession(str(folder / "model.int8.text.onnx"), providers=["CPUExecutionProvider"])
    for width in (3, 7, 5):
        tags = sess.run(None, {"tokens": np.full((4, width), "the", dtype=object)})[0]
        assert tags.shape == (4, width)
    assert "Shape mismatch" not in capfd.readouterr().err
