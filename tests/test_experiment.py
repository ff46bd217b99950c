"""``rnnx experiment``: the prefix property of question 2, the helpers, and the quick run end to end.

The property: a unidirectional tagger's probabilities at the positions of a prefix
are *bit-for-bit* identical whatever suffix follows it, on Keras and on the fused
ONNX model, for SimpleRNN, LSTM and GRU; a bidirectional tagger's change when the
word after the prefix changes. Models are small, built with ``build_model``, with
random weights (non-zero biases) and no training.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

from pipeline.experiment.prefix import prefix_difference, prefix_probs  # noqa: E402
from pipeline.models import CELLS, ModelConfig, build_model  # noqa: E402

VOCAB = 40
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

token = st.integers(min_value=1, max_value=VOCAB - 1)  # 0 is padding
prefixes = st.lists(token, min_size=1, max_size=12)
suffixes = st.lists(token, min_size=0, max_size=15)


@functools.lru_cache(maxsize=None)
def engines(cell: str, bidirectional: bool):
    """``{"keras": fn, "onnx": fn}`` (``ids[1, time] -> probs``) of one random-weight tagger."""
    from pipeline.export.fused import convert
    from pipeline.train.evaluate import keras_batch_fn

    cfg = ModelConfig("tagging", cell, bidirectional=bidirectional, units=8, embedding_dim=6, dropout=0.2,
                      vocab_size=VOCAB, num_labels=5)
    model = build_model(cfg)
    rng = np.random.default_rng(7)
    for w in model.weights:
        shape = tuple(w.shape)
        scale = 0.9 / np.sqrt(shape[-2]) if len(shape) >= 2 else 0.5
        w.assign(rng.normal(0.0, scale, shape).astype("float32"))
    sess = ort.InferenceSession(convert(model).SerializeToString(), providers=["CPUExecutionProvider"])
    return {"keras": keras_batch_fn(model), "onnx": lambda ids: sess.run(None, {"ids": ids})[0]}


@pytest.mark.parametrize("cell", CELLS)
@PROPERTY
@given(prefix=prefixes, suffix_a=suffixes, suffix_b=suffixes)
@example(prefix=[1], suffix_a=[], suffix_b=[1])  # 1 vs 2 steps: unpadded, ORT's GEMV and GEMM round apart
def test_unidirectional_prefix_outputs_ignore_the_suffix(cell, prefix, suffix_a, suffix_b):
    width = len(prefix) + max(len(suffix_a), len(suffix_b))  # one shape for both calls
    for engine, fn in engines(cell, False).items():
        a = prefix_probs(fn, prefix, suffix_a, width)
        b = prefix_probs(fn, prefix, suffix_b, width)
        assert a.shape == (len(prefix), 5)
        assert np.array_equal(a, b), (
            f"{cell} on {engine}: prefix {prefix} gives different probabilities after {suffix_a} and {suffix_b} "
            f"(max |diff| {np.abs(a - b).max():.3g})")


@pytest.mark.parametrize("cell", CELLS)
@PROPERTY
@given(prefix=prefixes, suffix=st.lists(token, min_size=1, max_size=15), data=st.data())
def test_bidirectional_prefix_outputs_depend_on_the_suffix(cell, prefix, suffix, data):
    other = data.draw(token.filter(lambda t: t != suffix[0]), label="other next word")
    changed = [other] + suffix[1:]
    for engine, fn in engines(cell, True).items():
        assert prefix_difference(fn, prefix, suffix, changed) > 0.0, (
            f"bidirectional {cell} on {engine}: the prefix {prefix} ignored its next word")


@pytest.mark.parametrize("cell", CELLS)
def test_engines_agree(cell):
    ids = np.asarray([[3, 9, 1, 17, 22]], dtype=np.int64)
    for bi in (False, True):
        e = engines(cell, bi)
        assert np.abs(e["keras"](ids) - e["onnx"](ids)).max() < 1e-5


# ----------------------------------------------------------------------------- helpers


def test_plan_and_sampling():
    from dataclasses import replace

    from pipeline.errors import ConfigError
    from pipeline.experiment.plan import plan_for
    from pipeline.experiment.slices import sample_indices

    full, quick = plan_for(quick=False), plan_for(quick=True)
    assert len(full.configs()) == len(quick.configs()) == 12
    assert [c for c in plan_for(quick=True, cells=("gru",)).configs()] == [
        ("brown-upos", "gru", False), ("brown-upos", "gru", True), ("mr", "gru", False), ("mr", "gru", True)]
    with pytest.raises(ConfigError, match="choose from"):
        plan_for(quick=True, cells=("elman",))
    lm = full.char_lm  # the NER and LM runs train outside the grid, the taggers for at most 6 epochs
    assert (lm.units, lm.epochs, lm.data, lm.crf_c1, lm.crf_c2) == (128, 2, ("brown-upos", "mr", "conll2003-ner"),
                                                                  0.05, 0.1)
    assert {v.data for v in lm.variants} == {"brown-upos", "conll2003-ner", "mr"}
    assert all(v.epochs <= 6 for v in lm.variants) and all(t.data != "conll2003-ner" for t in full.tasks)
    ma_hovy = next(v for v in full.published if v.data == "brown-upos" and v.crf)
    assert replace(lm.variants[0], lm=False, label=ma_hovy.label, epochs=ma_hovy.epochs) == ma_hovy
    idx = sample_indices(1000, 50, seed=3)
    assert idx == sorted(set(idx)) and len(idx) == 50 and idx == sample_indices(1000, 50, seed=3)


def test_softmax_probe_learns_a_linear_rule():
    from pipeline.experiment.probe import SoftmaxProbe

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)).astype("float32")
    y1 = (X[:, 0] > 0).astype(int)
    y2 = (X @ rng.normal(size=(5, 3))).argmax(axis=1)  # three classes split by linear scores
    probe = SoftmaxProbe.fit(X[:400], [y1[:400], y2[:400]], [2, 3], steps=300)
    p1, p2 = probe.predict(X[400:])
    assert (p1 == y1[400:]).mean() > 0.95 and (p2 == y2[400:]).mean() > 0.9


def test_shifted_targets_and_gold_usage():
    from pipeline.data.corpus import Split
    from pipeline.experiment.prefix import gold_usage
    from pipeline.experiment.probe import targets_of

    s = Split("tagging", [["an", "early", "bird"], ["Early", "."]], [["DET", "ADJ", "NOUN"], ["ADV", "."]])
    t = targets_of(s)
    assert t["previous"] == ["<s>", "DET", "ADJ", "<s>", "ADV"]
    assert t["next"] == ["ADJ", "NOUN", "</s>", ".", "</s>"]
    assert gold_usage(s, "early") == {"before NOUN": {"ADJ": 1}, "elsewhere": {"ADV": 1}}


def test_bootstrap_interval_covers_the_difference():
    from pipeline.experiment.verdict import paired_bootstrap

    rng = np.random.default_rng(1)
    a = (rng.random(2000) < 0.8).astype(int)
    b = (rng.random(2000) < 0.7).astype(int)
    lo, hi = paired_bootstrap(a, b, np.ones(2000), rounds=300)
    assert lo < a.mean() - b.mean() < hi and lo > 0


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_quick_experiment_end_to_end(tmp_path):
    """The whole quick experiment (12 tiny runs, the published and character-LM sections) through the CLI hook."""
    import argparse

    from pipeline.cli.experiment import configure, experiment_command

    parser = argparse.ArgumentParser()
    configure(parser)
    out = tmp_path / "exp"
    shown = {}
    assert experiment_command(parser.parse_args(["--quick", "--out", str(out), "--json"]),
                              lambda args, table, data: shown.update(table=table, data=data)) == 0
    results = shown["data"]
    assert "report:" in shown["table"] and "brown-upos-bigru" in shown["table"]
    report = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## 1. SimpleRNN vs LSTM vs GRU", '## 2. "They are early birds" vs "They are early today"',
                    "## 3. Is a bidirectional RNN worth it", "## 4. What does a hidden state represent?"):
        assert heading in report
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(saved["runs"]) == 12 == len(results["runs"])
    assert {(r["task"], r["cell"], r["bidirectional"]) for r in saved["runs"]} == {
        (t, c, b) for t in ("tagging", "classification") for c in CELLS for b in (False, True)}
    for r in saved["runs"]:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["latency_p50_ms"] > 0
        assert r["parameters"] > r["recurrent_parameters"] > 0
        assert abs(r["test_accuracy"] - r["test_accuracy_onnx"]) < 0.01
        assert f"{100 * r['test_accuracy']:.2f}" in report
    for m in saved["sentence_pair"]:
        if not m["bidirectional"]:
            assert all(e["prefix_identical"] for e in m["engines"].values())
    assert "points" in saved["bidirectional"]["paragraph"] and saved["bidirectional"]["paragraph"] in report
    assert len(saved["probes"]["probes"]) == 6
    assert "## Beyond the grid: character features, a CRF (Ma & Hovy 2016), word dropout, pooling" in report
    published = {r["name"]: r for r in saved["published"]}
    pooled = ["mr-bilstm-cnn-wd-maxpool-seed0", "mr-bilstm-cnn-wd-maxpool-seed1"]
    assert sorted(published) == ["brown-upos-bilstm-cnn-crf-wd", *pooled]
    for name in pooled:
        assert published[name]["pooling"] == "max" and published[name]["parity"]["passed"]
        assert published[name]["family"] == "mr-bilstm-cnn-wd-maxpool"
    assert "BiLSTM-CNN, max-pooled, seed 1" in report
    crf = published["brown-upos-bilstm-cnn-crf-wd"]
    assert crf["crf"] and crf["parity"]["passed"] and crf["parity"]["tags_differing"] == 0
    assert crf["parity"]["tags_compared"] == crf["test_items"]
    assert crf["test_accuracy"] == pytest.approx(crf["test_accuracy_onnx"])  # identical Viterbi paths
    assert {t["data"] for t in saved["targets"]} == {"brown-upos", "mr"}
    assert all(isinstance(t["met"], bool) for t in saved["targets"])
    mr_target = next(t for t in saved["targets"] if t["data"] == "mr")
    if mr_target["best"] == "mr-bilstm-cnn-wd-maxpool":  # the two seeds are scored together, by their mean
        accs = [published[n]["test_accuracy"] for n in pooled]
        assert mr_target["runs"] == 2 and mr_target["accuracy"] == pytest.approx(sum(accs) / 2)
    for png in ("grid_tagging.png", "grid_classification.png", "tradeoff.png", "probes.png", "lm_curve.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG" and png in report
    _check_char_lm_section(saved, report)


def _check_char_lm_section(saved: dict, report: str) -> None:
    """The contextual-string-embeddings section of the quick run: every row there and sane, all in report.md."""
    sec = saved["char_lm"]
    assert "## Contextual string embeddings (character LMs)" in report
    lm = sec["lm"]
    assert lm["data"] == ["brown-upos", "mr", "conll2003-ner"] and lm["train_characters"] > 0 and lm["train_seconds"] > 0
    for key in ("bpc_forward", "bpc_backward"):
        assert 0.0 < lm[key] < 10.0 and f"{lm[key]:.3f}" in report
    runs = {r["name"]: r for r in sec["taggers"]}
    assert sorted(runs) == ["brown-upos-bilstm-cnn-crf-wd-lm", "conll2003-ner-bilstm-cnn-crf-wd-lm",
                            "mr-bilstm-cnn-wd-maxpool-lm"]
    for r in runs.values():
        assert r["parity"]["passed"] and 0.0 <= r["test_accuracy"] <= 1.0 and r["latency_p50_ms"] > 0
        assert r["lm"] == r["name"].endswith("-lm") and f"{100 * r['test_accuracy']:.2f}" in report
    brown = runs["brown-upos-bilstm-cnn-crf-wd-lm"]
    assert brown["compared_with"] == ["brown-upos-bilstm-cnn-crf-wd"] and brown["parity"]["tags_differing"] == 0
    assert set(brown["gain_points"]) == {"test_accuracy", "test_oov_accuracy"}
    assert "saved_models/char-lm 16 units (frozen)" in brown["model"] and brown["model"].startswith("BiLSTM-CNN-CRF")
    assert 0.0 <= runs["conll2003-ner-bilstm-cnn-crf-wd-lm"]["test_entity_f1"] <= 1.0
    mr = runs["mr-bilstm-cnn-wd-maxpool-lm"]
    assert mr["compared_with"] == ["mr-bilstm-cnn-wd-maxpool-seed0", "mr-bilstm-cnn-wd-maxpool-seed1"]
    seeds = [next(r for r in saved["published"] if r["name"] == n)["test_accuracy"] for n in mr["compared_with"]]
    assert mr["gain_points"]["test_accuracy"] == pytest.approx(100 * (mr["test_accuracy"] - sum(seeds) / 2), abs=0.01)
    ood = sec["out_of_domain_tagging"]
    assert [r["name"] for r in ood["rows"]] == ["brown-upos-bilstm", "brown-upos-bilstm-cnn-crf-wd",
                                                "brown-upos-bilstm-cnn-crf-wd-lm", "nltk-perceptron"]
    assert ood["sentences"] == 200 and 0.0 < ood["unseen_share"] < 1.0
    for r in ood["rows"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["unseen_accuracy"] <= 1.0
        assert f"{100 * r['accuracy']:.2f}" in report
    ner = sec["ner"]
    assert [r["name"] for r in ner["rows"]] == ["conll2003-ner-bilstm-cnn-crf-wd-lm", "crf"] and ner["rows"][-1]["peer"]
    assert 0.0 <= ner["rows"][-1]["test_f1"] <= 1.0 and f"{100 * ner['rows'][-1]['test_f1']:.2f}" in report
    sent = sec["out_of_domain_sentiment"]
    assert list(sent["sets"]) == ["amazon-sentiment", "tweets-sentiment", "nyt-sentiment"]
    assert [r["name"] for r in sent["rows"]] == ["mr-bilstm-cnn-wd-maxpool-seed0", "mr-bilstm-cnn-wd-maxpool-seed1",
                                                 "mr-bilstm-cnn-wd-maxpool-lm", "tfidf-logreg", "majority"]
    for r in sent["rows"]:
        assert all(0.0 <= a <= 1.0 for a in r["accuracy"].values()) and len(r["accuracy"]) == 3
    assert sent["rows"][-1]["accuracy"]["tweets-sentiment"] >= 0.5  # a majority share
    targets = sec["targets"]
    assert [t["target"].split(" ")[0] for t in targets] == ["brown-upos", "ewt-upos", "mr", "sentiment",
                                                            "conll2003-ner"]
    for t in targets:
        assert isinstance(t["met"], bool) and t["statement"] in report
        assert t["statement"].endswith(("met.", "met (single seed)."))
    assert set(sec["seconds"]) >= {"LM pretraining", "total"}
    assert saved["seconds"]["contextual string embeddings (character LMs)"] > 0


@pytest.mark.parametrize("module", ["plan", "slices", "grid", "prefix", "verdict", "probe", "report", "figures",
                                    "demo", "published", "runner", "charlm", "peers"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"pipeline.experiment.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
