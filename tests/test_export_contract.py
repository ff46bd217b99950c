"""The ONNX contract step (IR version, metadata, docs, full check) runs once per export, whichever engine."""

import json

import pytest

pytest.importorskip("keras")
onnx = pytest.importorskip("onnx")


@pytest.mark.parametrize("engine", ["fused", "tf2onnx"])
def test_export_run_finalizes_exactly_once(engine, trained_export, tmp_path, monkeypatch):
    from pipeline.export import exporter
    from pipeline.export.contract import IR_VERSION, finalize, read_metadata

    folder = trained_export("classifier")
    source = folder / json.loads((folder / "export.json").read_text())["source_run"]  # relative to the export
    calls = []

    def counting(model, metadata):
        calls.append(metadata["engine"])
        return finalize(model, metadata)

    monkeypatch.setattr(exporter, "finalize", counting)
    result = exporter.export_run(source, out_root=tmp_path, engine=engine, text=False)
    assert calls == [engine]
    model = onnx.load(result.folder / "model.onnx")
    assert model.ir_version == IR_VERSION and model.producer_name == "rnnx"
    assert read_metadata(model)["engine"] == engine
