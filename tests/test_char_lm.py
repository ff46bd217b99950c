"""Character language models (``rnnx pretrain-lm``) and the taggers / classifiers that read their states.

A tiny LM is pretrained on real Brown sentences written as a plain text file, then
a BiLSTM-CNN-CRF tagger and a classifier read it (module fixtures). The tests check
the text layout, the runtime encoding, the feature layer, resume rules, frozen and
fine-tuned weights, and that the fused ONNX export matches Keras.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.data.lm_text import LMChars, sentence_text
from pipeline.errors import ConfigError
from pipeline.models import ModelConfig
from pipeline.train.char_lm import LMOptions, LMSpec, pretrain
from pipeline.train.lm_run import load_lm
from pipeline.train.fit import RunSpec, TrainOptions, train

TOKENS = st.lists(st.text(alphabet="abcXYZ.é -", min_size=1, max_size=12).filter(lambda t: t.strip() == t and t),
                  min_size=0, max_size=12)


@pytest.fixture(scope="module")
def lm_text_file(tmp_path_factory, brown):
    path = tmp_path_factory.mktemp("text") / "brown.txt"
    path.write_text("\n".join(" ".join(t) for t in brown["train"].tokens[:400]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, lm_text_file):
    root = tmp_path_factory.mktemp("lm") / "saved_models"
    opts = LMOptions(units=12, char_dim=6, epochs=2, batch_size=32, learning_rate=0.01, verbose=0)
    return pretrain(LMSpec("tiny-lm", [str(lm_text_file)], opts), root=root)


def _spec(name, files, task, lm, epochs=2, **model):
    return RunSpec(name=name, data=str(files["train"]), dev=str(files["dev"]), test=str(files["test"]),
                   model=ModelConfig(task, "lstm", units=12, embedding_dim=12, dropout=0.1, char_dim=6,
                                     char_filters=8, lm=str(lm), **model),
                   options=TrainOptions(epochs=epochs, batch_size=32, learning_rate=0.02, verbose=0))


@pytest.fixture(scope="module")
def lm_tagger(tmp_path_factory, brown_files, lm_run):
    from pipeline.export.exporter import export_run

    root = tmp_path_factory.mktemp("lmtag")
    run = train(_spec("lm-tagger", brown_files, "tagging", lm_run, chars=True, crf=True), root=root / "saved_models")
    return run, export_run(run, out_root=root / "export", quantize="int8").folder


# -- the text layout ------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(TOKENS)
def test_starts_and_ends_point_at_each_tokens_first_and_last_character(tokens):
    chars = LMChars.build(["abcXYZ.é -"], min_freq=1)
    ids, starts, ends = chars.encode_sentence(tokens)
    text = sentence_text(tokens)
    assert chars.decode(ids) == text and len(ids) == len(text)
    for tok, s, e in zip(tokens, starts, ends):
        assert text[s:e + 1] == tok and s >= 1 and text[s - 1] == " " and text[e + 1] == " "


@settings(max_examples=40, deadline=None)
@given(st.lists(TOKENS, min_size=1, max_size=6))
def test_runtime_encoding_gives_the_encoders_lm_inputs(sentences):
    from pipeline.data.chars import CharVocab
    from pipeline.data.features import Encoder
    from pipeline.data.vocab import Vocabulary
    from pipeline.runtime.encoding import encode_tokens

    enc = Encoder(Vocabulary.build([["abc", "X"]]), CharVocab.build([["abc", "."]], min_freq=1),
                  LMChars.build(["abc XY"], min_freq=1))  # é, Z, . and - are unknown to the LM
    rows = encode_tokens(enc, sentences)
    got, want = rows.collate(rows.sentences), enc.collate(enc.encode_all(sentences))
    assert got.keys() == want.keys() == {"ids", "chars", "lm_chars", "lm_starts", "lm_ends"}
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_word_boundary_states_pick_forward_at_ends_and_backward_at_starts():
    from pipeline.models.char_lm import WordBoundaryStates

    rng = np.random.default_rng(0)
    fwd, bwd = rng.normal(size=(2, 9, 3)).astype("float32"), rng.normal(size=(2, 9, 3)).astype("float32")
    starts, ends = np.array([[1, 4, 0], [1, 0, 0]]), np.array([[2, 7, 0], [5, 0, 0]])
    out = np.asarray(WordBoundaryStates()([fwd, bwd, starts, ends]))
    for b in range(2):
        for t in range(3):
            want = (np.concatenate([fwd[b, ends[b, t]], bwd[b, starts[b, t]]]) if starts[b, t] else np.zeros(6))
            np.testing.assert_array_equal(out[b, t], want)


# -- pretraining -----------------------------------------------------------------------------------------------


def test_pretraining_writes_a_complete_lm_run_with_bits_per_character(lm_run):
    files = {p.name for p in lm_run.iterdir()}
    assert {"model.keras", "lm_chars.json", "config.json", "metrics.json", "history.json", ".rnnx-run"} <= files
    config = json.loads((lm_run / "config.json").read_text())
    assert config["kind"] == "char-lm" and config["sources"][0]["heldout_texts"] == 20  # every 20th of 400 lines
    held = json.loads((lm_run / "metrics.json").read_text())["heldout"]
    chars = LMChars.from_json(json.loads((lm_run / "lm_chars.json").read_text()))
    # better than guessing uniformly among the characters (log2 of the table size), which an untrained LM gives
    assert 0 < held["bpc_forward"] < np.log2(chars.size) and 0 < held["bpc_backward"] < np.log2(chars.size)
    history = json.loads((lm_run / "history.json").read_text())
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_a_finished_lm_is_not_overwritten_and_resume_needs_the_same_settings(lm_run, lm_text_file):
    root = lm_run.parent
    with pytest.raises(ConfigError, match="already exists|--force"):
        pretrain(LMSpec("tiny-lm", [str(lm_text_file)], LMOptions(units=12, char_dim=6, epochs=1, verbose=0)),
                 root=root)
    partial = root / "other-lm.partial"
    opts = LMOptions(units=12, char_dim=6, epochs=1, verbose=0, train_limit=40)
    pretrain(LMSpec("other-lm", [str(lm_text_file)], opts), root=root)
    (root / "other-lm").rename(partial)  # as if interrupted after its epoch
    with pytest.raises(ConfigError, match="units"):
        pretrain(LMSpec("other-lm", [str(lm_text_file)], LMOptions(units=16, char_dim=6, epochs=1, verbose=0,
                                                                  train_limit=40)), root=root, resume=True)


def test_resuming_a_tagger_refuses_an_lm_retrained_since_it_started(tmp_path, brown_files, lm_run, lm_text_file):
    lms = tmp_path / "lms"
    shutil.copytree(lm_run, lms / "tiny-lm")
    root = tmp_path / "saved_models"
    spec = _spec("lm-resume", brown_files, "tagging", lms / "tiny-lm", epochs=1)
    train(spec, root=root).rename(root / "lm-resume.partial")  # as if interrupted after its epoch
    pretrain(LMSpec("tiny-lm", [str(lm_text_file)], LMOptions(units=12, char_dim=6, epochs=1, seed=7,
                                                              train_limit=40, verbose=0)), root=lms, force=True)
    with pytest.raises(ConfigError, match="character LM was retrained"):
        train(spec, root=root, resume=True)
    assert (root / "lm-resume.partial" / "model.keras").exists()  # the interrupted run is kept


def test_load_lm_refuses_a_tagger_run_and_a_missing_one(lm_tagger, tmp_path):
    run, _ = lm_tagger
    with pytest.raises(ConfigError, match="not a character language model"):
        load_lm(str(run))
    with pytest.raises(ConfigError, match="pretrain-lm"):
        load_lm("nothing-here", root=tmp_path)


# -- taggers and classifiers with LM features ------------------------------------------------------------------


def test_frozen_lm_weights_stay_the_pretrained_ones(lm_tagger, lm_run):
    from pipeline.models import load_model
    from pipeline.train.rundir import load_run

    tagger = load_run(lm_tagger[0])
    lm = load_model(lm_run / "model.keras")
    for name in ("lm_embedding", "char_lm"):
        for got, want in zip(tagger.model.get_layer(name).get_weights(), lm.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    config = json.loads((lm_tagger[0] / "config.json").read_text())
    assert config["model"]["lm_units"] == 12 and config["lm"]["heldout"]["bpc_forward"] > 0
    assert "lm_chars.json" in config["files_sha256"]


def test_fine_tuning_changes_the_lm_weights(tmp_path, brown_files, lm_run):
    from pipeline.models import load_model
    from pipeline.train.rundir import load_run

    run = train(_spec("lm-ft", brown_files, "tagging", lm_run, epochs=1, lm_fine_tune=True), root=tmp_path)
    got = load_run(run).model.get_layer("char_lm").get_weights()[0]
    assert not np.array_equal(got, load_model(lm_run / "model.keras").get_layer("char_lm").get_weights()[0])


def test_lm_tagger_export_matches_keras_on_held_out_and_random_inputs(lm_tagger):
    from pipeline.check.parity import check_export

    _, folder = lm_tagger
    info = json.loads((folder / "export.json").read_text())
    assert [i["name"] for i in info["inputs"]] == ["ids", "chars", "lm_chars", "lm_starts", "lm_ends"]
    assert (folder / "lm_chars.json").exists()
    report = check_export(folder, random_count=3)
    assert report["passed"], report["failures"]
    assert report["heldout"]["crf_tags"]["sequences_differing"] == 0


def test_the_character_lm_is_one_bidirectional_lstm_op_over_the_sentence(lm_tagger):
    import onnx

    _, folder = lm_tagger
    graph = onnx.load(folder / "model.onnx").graph
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    directions = sorted(next(a.s.decode() for a in n.attribute if a.name == "direction") for n in lstms)
    assert directions == ["bidirectional", "bidirectional"]  # the LM, and the tagger's BiLSTM
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims["lm_chars"] == ["batch", "sentence_chars"] and dims["lm_starts"] == ["batch", "time"]


def test_runtime_tags_raw_sentences_like_keras(lm_tagger):
    from pipeline.data.corpus import Split
    from pipeline.runtime.session import Tagger
    from pipeline.train.evaluate import decode_model_predictions, predict_probs
    from pipeline.train.rundir import load_run

    run, folder = lm_tagger
    tagger = Tagger.load(folder)
    sentences = [["The", "Zorblaxian", "committee", "approved", "it", "."], ["Yes"], ["a" * 70, "b"]]
    got = tagger.predict_tokens(sentences)
    keras_run = load_run(run)
    split = Split(tokens=sentences, labels=[["X"] * len(s) for s in sentences], task="tagging")
    probs = predict_probs(keras_run.model, keras_run.encoder, split)
    assert got == decode_model_predictions(keras_run.model, probs, keras_run.labels.names, "tagging")
    int8 = Tagger.load(folder, model_file="model.int8.onnx")
    assert [len(x) for x in int8.predict_tokens(sentences)] == [6, 1, 2]


def test_a_swapped_lm_character_file_is_refused(lm_tagger, tmp_path):
    from pipeline.errors import RnnxError
    from pipeline.runtime.session import Tagger

    _, folder = lm_tagger
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    table = json.loads((copy / "lm_chars.json").read_text())
    table["chars"][2], table["chars"][3] = table["chars"][3], table["chars"][2]
    (copy / "lm_chars.json").write_text(json.dumps(table))
    with pytest.raises(RnnxError, match="lm_chars.json"):
        Tagger.load(copy)


def test_a_classifier_reads_lm_states_through_max_pooling(tmp_path, mr_files, lm_run):
    from pipeline.check.parity import check_export
    from pipeline.export.exporter import export_run

    run = train(_spec("lm-cls", mr_files, "classification", lm_run, epochs=1, pooling="max"),
                root=tmp_path / "saved_models")
    report = check_export(export_run(run, out_root=tmp_path / "export").folder, random_count=2)
    assert report["passed"], report["failures"]


# -- the command line -------------------------------------------------------------------------------------------


def _rnnx(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_cli_errors_are_one_line_with_exit_status_2(tmp_path, lm_tagger):
    missing = _rnnx("pretrain-lm", "--data", "no-such-corpus", "--name", "x", cwd=tmp_path)
    assert missing.returncode == 2 and "neither a built-in corpus" in missing.stderr
    assert "Traceback" not in missing.stderr
    held_out_only = _rnnx("pretrain-lm", "--data", "ewt-upos", "--name", "x", cwd=tmp_path)
    assert held_out_only.returncode == 2 and "evaluation-only" in held_out_only.stderr
    not_lm = _rnnx("train", "--data", "brown-upos", "--name", "y", "--lm", str(lm_tagger[0]), "--limit", "20",
                   cwd=tmp_path)
    assert not_lm.returncode == 2 and "not a character language model" in not_lm.stderr
    assert "Traceback" not in not_lm.stderr and not (tmp_path / "saved_models" / "y").exists()


def test_lm_features_alone_without_a_word_embedding_export_exactly(tmp_path, brown_files, lm_run):
    from pipeline.check.parity import check_export
    from pipeline.export.exporter import export_run
    from pipeline.train.rundir import load_run

    run = train(_spec("lm-alone", brown_files, "tagging", lm_run, epochs=1, word_embedding=False),
                root=tmp_path / "saved_models")
    assert "embedding" not in [layer.name for layer in load_run(run).model.layers]
    report = check_export(export_run(run, out_root=tmp_path / "export").folder, random_count=2)
    assert report["passed"], report["failures"]
    with pytest.raises(ConfigError, match="--chars and/or --lm"):
        ModelConfig("tagging", word_embedding=False)


# -- a frozen LM's features, computed once ---------------------------------------------------------------------


def _probs_of(model):
    from pipeline.keras_env import import_keras

    return import_keras().Model(model.inputs, model.get_layer("probs").output)


@pytest.mark.parametrize("alone", [False, True])
def test_the_model_trained_on_precomputed_features_is_the_saved_model(lm_tagger, lm_run, brown, alone):
    """Training reads the LM's features computed once; the saved model runs the LM itself. Both must give the
    same probabilities for the same weights, padding (the mask) included. ``alone``: the LM's features are the
    only word features, so the mask comes from them alone."""
    from pipeline.data.features import Encoder, collate
    from pipeline.models.builders import build_model
    from pipeline.models.char_lm import copy_lm_weights
    from pipeline.train import lm_cache
    from pipeline.train.rundir import load_run

    run = load_run(lm_tagger[0])
    lm = load_lm(lm_run)
    cfg, whole, encoder = run.model_config, run.model, run.encoder
    if alone:
        cfg = ModelConfig.from_json({**cfg.to_json(), "word_embedding": False, "chars": False,
                                      "bidirectional": True})  # a backward pass meets the padding first
        whole, encoder = build_model(cfg), Encoder(encoder.vocab, None, encoder.lm)
        rng = np.random.default_rng(0)  # non-zero biases: a fresh LSTM's state would stay 0 over padding
        for layer in whole.layers:
            layer.set_weights([rng.normal(0, 0.3, w.shape) for w in layer.get_weights()])
        copy_lm_weights(whole, lm.model)
    trained = build_model(cfg, lm_features_in=True)
    for layer in trained.layers:
        if layer.get_weights():
            layer.set_weights(whole.get_layer(layer.name).get_weights())
    assert not {"lm_embedding", "char_lm"} & {layer.name for layer in trained.layers}

    sentences = brown["dev"].tokens[:40]  # ragged lengths: padding in every batch
    encoded = encoder.encode_all(sentences)
    cached = lm_cache.with_features(encoded, lm_cache.feature_model(lm))
    assert [len(e) for e in cached] == [len(s) for s in sentences] and cached[0].lm is None
    got = np.asarray(_probs_of(trained).predict_on_batch(collate(cached)))
    want = np.asarray(_probs_of(whole).predict_on_batch(collate(encoded)))
    real = collate(encoded)["ids"] > 0
    np.testing.assert_allclose(got[real], want[real], atol=1e-5)


def test_training_records_what_the_features_cost_and_whole_model_restores_the_lm(lm_tagger, lm_run):
    from pipeline.models import load_model
    from pipeline.train.rundir import load_run

    metrics = json.loads((lm_tagger[0] / "metrics.json").read_text())
    cache = metrics["lm_features_cache"]
    assert cache["tokens"] > 1000 and cache["bytes"] == cache["tokens"] * 2 * 12 * 4 and cache["seconds"] >= 0
    layers = {layer.name for layer in load_run(lm_tagger[0]).model.layers}
    assert {"lm_embedding", "char_lm", "lm_features"} <= layers and "lm_features_masked" not in layers
    with pytest.raises(ConfigError, match="cannot be precomputed"):
        from pipeline.models.builders import build_model

        cfg = load_run(lm_tagger[0]).model_config
        build_model(ModelConfig.from_json({**cfg.to_json(), "lm_fine_tune": True}), lm_features_in=True)
    assert load_model(lm_run / "model.keras").get_layer("char_lm").get_weights()


def test_an_lm_whose_features_do_not_fit_in_memory_runs_in_every_step(tmp_path, brown_files, lm_run, monkeypatch):
    from pipeline.check.parity import check_export
    from pipeline.export.exporter import export_run
    from pipeline.train import lm_cache

    monkeypatch.setattr(lm_cache, "MAX_BYTES", 0)
    run = train(_spec("lm-uncached", brown_files, "tagging", lm_run, epochs=1), root=tmp_path / "saved_models")
    assert "lm_features_cache" not in json.loads((run / "metrics.json").read_text())
    report = check_export(export_run(run, out_root=tmp_path / "export").folder, random_count=2)
    assert report["passed"], report["failures"]


def test_an_interrupted_lm_tagger_resumes_on_its_precomputed_features(tmp_path, brown_files, lm_run):
    """The training model (no LM layers) is what BackupAndRestore keeps; --resume rebuilds the same one, and
    the finished run still holds the pretrained LM."""
    import keras

    from pipeline.models import load_model
    from pipeline.train import fit
    from pipeline.train.rundir import load_run

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    original = fit._callbacks
    fit._callbacks = lambda *a: original(*a) + [Boom()]
    spec = replace(_spec("lm-interrupted", brown_files, "tagging", lm_run),
                   options=TrainOptions(epochs=2, patience=5, batch_size=32, learning_rate=0.02, verbose=0))
    try:
        with pytest.raises(KeyboardInterrupt):
            train(spec, root=tmp_path)
    finally:
        fit._callbacks = original
    run = train(spec, root=tmp_path, resume=True)
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 2
    got = load_run(run).model.get_layer("char_lm").get_weights()
    for a, b in zip(got, load_model(lm_run / "model.keras").get_layer("char_lm").get_weights()):
        np.testing.assert_array_equal(a, b)
