"""The main job end to end in its quick form: every stage of `rnnx demo` runs on real data."""

import json

import pytest


@pytest.mark.slow
def test_quick_demo_runs_every_stage(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    for stage in ("train", "export", "check parity", "bench latency", "summary"):
        assert stage in out
    summary = json.loads((tmp_path / "export/demo_summary.json").read_text())
    assert [r["name"] for r in summary["runs"]] == ["brown-upos-bilstm-quick", "mr-bilstm-quick"]
    for run in summary["runs"]:
        assert run["engine"] == "fused"
        assert run["parity_max_abs_diff"] <= 1e-4
        assert run["text_model_label_mismatches"] == 0
        assert run["int8_test_accuracy"] is not None
        folder = tmp_path / "export" / run["name"]
        for f in ("model.onnx", "model.text.onnx", "model.int8.onnx", "model.ort", "README.md", "parity.json",
                  "bench.json", "deploy.json"):
            assert (folder / f).exists(), f
    tagger = summary["runs"][0]
    assert tagger["test_accuracy"] > 0.5  # 2,000 real sentences, one epoch (the majority tag is 24%)
    stream = summary["streaming"]
    assert stream["name"] == "brown-upos-lstm-stream-quick"
    assert stream["streamed_tag_mismatches"] == 0 and stream["streamed_tokens"] > 1000
    assert (tmp_path / "export" / stream["name"] / "model.stream.onnx").is_file()
    assert set(stream["latency"]) == {"10", "50", "200"} and all(r["stream_us"] > 0 for r in stream["latency"].values())
