"""Character-CNN and CRF models end to end on real sentences: train, export, check, serve.

One BiLSTM-CNN-CRF tagger and one character-CNN classifier are trained briefly
(module fixtures); every test reads them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.errors import ConfigError, ExportError, RnnxError
from pipeline.export.exporter import export_run
from pipeline.check.parity import check_export
from pipeline.models import ModelConfig
from pipeline.train.fit import RunSpec, TrainOptions, train


def spec(name, files, task, **model):
    return RunSpec(name=name, data=str(files["train"]), dev=str(files["dev"]), test=str(files["test"]),
                   model=ModelConfig(task, "lstm", bidirectional=True, units=16, embedding_dim=16, dropout=0.1,
                                     char_dim=8, char_filters=12, **model),
                   options=TrainOptions(epochs=3, batch_size=32, learning_rate=0.02, verbose=0))


@pytest.fixture(scope="module")
def crf_tagger(tmp_path_factory, brown_files):
    root = tmp_path_factory.mktemp("crf")
    run = train(spec("cnn-crf", brown_files, "tagging", chars=True, crf=True), root=root / "saved_models")
    return run, export_run(run, out_root=root / "export").folder


@pytest.fixture(scope="module")
def char_classifier(tmp_path_factory, mr_files):
    root = tmp_path_factory.mktemp("cls")
    run = train(spec("cnn-cls", mr_files, "classification", chars=True), root=root / "saved_models")
    return run, export_run(run, out_root=root / "export").folder


def test_crf_tagger_run_holds_the_character_vocabulary_and_a_crf_loss(crf_tagger):
    run, _ = crf_tagger
    chars = json.loads((run / "chars.json").read_text())
    assert chars["chars"][:2] == ["<pad>", "<unk>"] and len(chars["chars"]) > 30
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["num_chars"] == len(chars["chars"]) and config["model"]["crf"] is True
    history = json.loads((run / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]  # the CRF likelihood improved
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.7  # 3 epochs on 400 sentences; the majority tag (NOUN) gives 0.31


def test_crf_export_decodes_the_same_tags_as_keras_on_the_whole_split(crf_tagger):
    _, folder = crf_tagger
    info = json.loads((folder / "export.json").read_text())
    assert info["engine"] == "fused"
    assert [i["name"] for i in info["inputs"]] == ["ids", "chars"]
    assert [o["name"] for o in info["outputs"]] == ["probs", "tags"]
    assert (folder / "chars.json").exists() and not (folder / "model.text.onnx").exists()
    assert "characters" in info["text_note"]
    report = check_export(folder, random_count=3)
    assert report["passed"], report["failures"]
    held = report["heldout"]["crf_tags"]
    assert held == {"sequences_compared": 120, "sequences_differing": 0, "tokens_differing": 0}
    assert report["random"]["crf_tags"]["sequences_compared"] > 0
    assert report["heldout"]["accuracy"]["keras"] == report["heldout"]["accuracy"]["onnxruntime"]


def test_runtime_tagger_uses_the_graph_viterbi_and_reads_unknown_words(crf_tagger):
    from pipeline.runtime.session import Tagger

    run, folder = crf_tagger
    tagger = Tagger.load(folder)
    assert tagger.has_tags and tagger.input_names == ["ids", "chars"]
    sentences = [["The", "Zorblaxian", "committee", "approved", "it", "."], ["Yes"], []]
    labels = tagger.predict_tokens(sentences)
    assert [len(x) for x in labels] == [6, 1, 0]
    # the same labels as Keras + numpy Viterbi
    from pipeline.train.evaluate import decode_model_predictions, predict_probs
    from pipeline.train.rundir import load_run
    from pipeline.data.corpus import Split

    keras_run = load_run(run)
    split = Split(tokens=sentences[:2], labels=[["X"] * 6, ["X"]], task="tagging")
    probs = predict_probs(keras_run.model, keras_run.encoder, split)
    assert decode_model_predictions(keras_run.model, probs, keras_run.labels.names, "tagging") == labels[:2]


def test_runtime_rejects_inputs_without_characters(crf_tagger):
    from pipeline.runtime.session import Tagger

    tagger = Tagger.load(crf_tagger[1])
    with pytest.raises(RnnxError, match="missing \\['chars'\\]"):
        tagger.run(np.array([[3, 4]]))
    with pytest.raises(RnnxError, match="chars must be a 3-D"):
        tagger.run({"ids": np.array([[3, 4]]), "chars": np.array([[3, 4]])})
    with pytest.raises(RnnxError, match="first two axes must match"):
        tagger.run({"ids": np.array([[3, 4]]), "chars": np.zeros((1, 3, 2), np.int64)})


def test_structured_models_refuse_tf2onnx(crf_tagger, tmp_path):
    run, _ = crf_tagger
    with pytest.raises(ExportError, match="tf2onnx engine exports word-level"):
        export_run(run, out_root=tmp_path, engine="tf2onnx")
    with pytest.raises(ConfigError, match="--char-cache -1"):
        export_run(run, out_root=tmp_path, char_cache=-1)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_crf_tagger_exports_int8_and_ort_variants_that_pass_their_checks(crf_tagger, tmp_path):
    from pipeline.check.verify import check_deploy_artifacts

    run, _ = crf_tagger
    folder = export_run(run, out_root=tmp_path, quantize="int8", ort=True).folder
    deploy = json.loads((folder / "deploy.json").read_text())
    assert deploy["quantization"]["quantized"]["LSTM"] == 1  # DynamicQuantizeLSTM
    assert {"model.onnx", "model.int8.onnx", "model.ort", "model.int8.ort"} <= set(deploy["artifacts"])
    assert all(f["passed"] and f["label_mismatches"] == 0 for f in deploy["ort"]["files"].values())
    reports = check_deploy_artifacts(folder)
    assert reports["model.int8.onnx"]["passed"] and reports["model.int8.onnx"]["accuracy_drop_points"] <= 0.5


def test_the_character_cache_gives_the_answers_of_the_convolution(crf_tagger, tmp_path):
    """Cached spellings, unknown words, unknown characters, over-long words: tags and probs as without the cache."""
    from pipeline.runtime.session import Tagger

    run, cached = crf_tagger
    info = json.loads((cached / "export.json").read_text())
    assert info["char_cache"]["spellings"] > 100 and "training spellings" in info["char_cache"]["note"]
    plain = export_run(run, out_root=tmp_path, char_cache=0).folder
    assert json.loads((plain / "export.json").read_text())["char_cache"] == {"spellings": 0, "note": "off"}
    sentences = [["The", "committee", "approved", "it", "."], ["Zorblaxian", "ÆØÅ", "x" * 40, "the"], ["Yes"],
                 ["a"] * 30]
    a, b = Tagger.load(cached), Tagger.load(plain)
    assert a.predict_tokens(sentences) == b.predict_tokens(sentences)
    for x, y in zip(a.probs_tokens(sentences), b.probs_tokens(sentences)):
        np.testing.assert_allclose(x, y, atol=1e-6)
    assert (cached / "model.onnx").stat().st_size > (plain / "model.onnx").stat().st_size  # the table


def test_character_classifier_keeps_padding_out_and_passes_parity(char_classifier):
    from pipeline.runtime.session import Classifier

    _, folder = char_classifier
    report = check_export(folder, random_count=3)
    assert report["passed"], report["failures"]
    assert report["heldout"]["max_abs_diff"] < 1e-4
    clf = Classifier.load(folder)
    text = ["a", "quietly", "devastating", "film"]
    alone = clf.predict_tokens([text])[0][1]
    beside_long = clf.predict_tokens([text, ["word"] * 40], batch_size=2)[0][1]
    assert alone == pytest.approx(beside_long, abs=1e-5)  # padding in the batch changes nothing
    with pytest.raises(RnnxError, match="empty"):
        clf.predict_tokens([[]])


def test_crf_is_for_taggers_and_structured_models_need_in_memory_data(brown_files, tmp_path):
    with pytest.raises(ConfigError, match="crf is for taggers"):
        ModelConfig("classification", crf=True)
    with pytest.raises(ConfigError, match="char_width must be an odd number"):
        ModelConfig("tagging", chars=True, char_width=4)
    streamed = RunSpec(name="s", data=str(brown_files["train"].parent / "*.txt"), dev=str(brown_files["dev"]),
                       model=ModelConfig("tagging", chars=True, units=8, embedding_dim=8),
                       options=TrainOptions(epochs=1, verbose=0))
    with pytest.raises(ConfigError, match="needs the training data in memory"):
        train(streamed, root=tmp_path)


def test_a_fresh_process_loads_the_saved_crf_model(crf_tagger):
    """Custom layers must be registered before Keras reads model.keras (rnnx export/check run in new processes)."""
    import subprocess
    import sys

    run, _ = crf_tagger
    code = ("import sys\nfrom pipeline.train.rundir import load_run\n"
            "m = load_run(sys.argv[1]).model\nprint(type(m).__name__, [l.name for l in m.layers][-1])")
    out = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["CRFTagger", "crf"]


def test_cli_export_says_what_the_character_cache_holds(crf_tagger, tmp_path, capsys):
    from pipeline.cli import main

    run, _ = crf_tagger
    assert main(["export", str(run), "--out", str(tmp_path), "--char-cache", "50", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["char_cache"]["spellings"] == 50 and info["char_cache"]["note"].startswith("50 most frequent")
