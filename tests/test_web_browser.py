"""The page in a real headless Chromium tags held-out sentences exactly like Python's runtime.

Debian's ``chromium`` driven by npm ``puppeteer-core`` (no browser download), running npm
``onnxruntime-web`` in WASM, served by ``rnnx web``'s server. The page is typed into (the first
sentences key by key, the rest in one input event each) and its tags are read back from the DOM;
Python's :class:`pipeline.runtime.text.TextModel` runs the same file on the same text
(:class:`pipeline.runtime.stream.TagStream` for ``model.stream.onnx``, pushed a token at a time).
Load time and per-sentence latency in the browser are printed.

Without Chromium the test is skipped locally with the command that installs it, and fails in CI
(``CI`` set, as ``.ci/run`` does), where it must run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import warnings
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "web"
HELD_OUT = 320  # held-out Brown test sentences compared per tagger variant (>= 300)


def _measure_module():
    spec = importlib.util.spec_from_file_location("rnnx_web_measure", EXAMPLE / "measure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


measure = _measure_module()


@pytest.fixture(scope="module")
def browser_ready():
    missing = []
    if measure.chromium_path() is None:
        missing.append(f"Chromium: {measure.CHROMIUM_INSTALL}")
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing.append("Node.js with npm: apt-get install -y nodejs npm")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run the browser test; .ci/run installs them as root)")
        warnings.warn(message)
        pytest.skip(message)
    from pipeline.runtime.web import install_page

    install_page(dev=True)  # npm ci --ignore-scripts: onnxruntime-web and puppeteer-core, no browser download


@pytest.fixture(scope="module")
def web_tagger(tmp_path_factory, brown):
    """A unidirectional LSTM tagger trained on 2,000 real Brown sentences (about 90% accurate, so its
    tags vary), exported with every deployment variant and a stream model, and checked (the int8
    default rests on that)."""
    from pipeline.check.verify import check_deploy_artifacts
    from pipeline.errors import ParityError
    from pipeline.export.exporter import export_run
    from pipeline.models import ModelConfig
    from pipeline.train.fit import RunSpec, TrainOptions, train

    root = tmp_path_factory.mktemp("web-tagger")
    files = {}
    for name, n in (("train", 2000), ("dev", 100), ("test", HELD_OUT)):
        split = brown[name]
        keep = [i for i, t in enumerate(split.tokens) if 0 < len(t) <= 40][:n]
        files[name] = root / f"{name}.txt"
        files[name].write_text("".join(" ".join(f"{w}/{t}" for w, t in zip(split.tokens[i], split.labels[i])) + "\n"
                                       for i in keep), encoding="utf-8")
    cfg = ModelConfig("tagging", "lstm", bidirectional=False, units=32, embedding_dim=32)
    spec = RunSpec(name="webtag", data=str(files["train"]), dev=str(files["dev"]), test=str(files["test"]),
                   model=cfg, options=TrainOptions(epochs=4, verbose=0))
    run = train(spec, root=root / "saved_models")
    folder = export_run(run, out_root=root / "export", quantize="int8", ort=True, streaming=True).folder
    try:
        check_deploy_artifacts(folder)
    except ParityError:  # int8 beyond its accuracy budget: the page must then default to float32
        pass
    return folder


@pytest.fixture(scope="module")
def web_classifier(tmp_path_factory, mr):
    """A GRU sentiment classifier trained on 3,000 real movie-review snippets, half of each label."""
    from pipeline.export.exporter import export_run
    from pipeline.models import ModelConfig
    from pipeline.train.fit import RunSpec, TrainOptions, train

    root = tmp_path_factory.mktemp("web-classifier")
    files = {}
    for name, n in (("train", 3000), ("dev", 200)):
        labels = mr[name].labels  # the splits run positive first: take every other snippet of each label
        rows = sorted([i for i, y in enumerate(labels) if y == "pos"][: n // 2] +
                      [i for i, y in enumerate(labels) if y == "neg"][: n // 2])
        split = mr[name].subset(rows)
        files[name] = root / f"{name}.tsv"
        files[name].write_text("".join(f"{y}\t{' '.join(t)}\n" for t, y in zip(split.tokens, split.labels)),
                               encoding="utf-8")
    cfg = ModelConfig("classification", "gru", bidirectional=False, units=24, embedding_dim=24)
    spec = RunSpec(name="websent", data=str(files["train"]), dev=str(files["dev"]), test=str(files["dev"]),
                   model=cfg, options=TrainOptions(epochs=3, verbose=0))
    return export_run(train(spec, root=root / "saved_models"), out_root=root / "export").folder


def _show(capsys, title: str, result: dict) -> None:
    with capsys.disabled():
        print(f"\n{title}\n{measure.table(result)}")


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 600 and height >= 400


@pytest.mark.slow
def test_browser_tags_like_python(browser_ready, web_tagger, tmp_path, capsys):
    from pipeline.data.readers import read_file
    from pipeline.runtime.web import web_config

    config = web_config(web_tagger)
    int8_ok = config["default_text_reason"].startswith("int8 checked")
    allowed = [v for v in config["variants"] if int8_ok or not v["int8"]]
    assert config["default_text"] == min(allowed, key=lambda v: v["bytes"])["file"]
    assert ".int8." in config["default_text"] or not int8_ok
    assert config["default"] == "model.stream.onnx" == config["stream"]["file"]
    held = read_file(web_tagger.parent.parent / "test.txt")  # held out: the run never trained on it
    sentences, gold = held.tokens, held.labels
    texts = [" ".join(t) for t in sentences]
    assert len(texts) == HELD_OUT
    shot = tmp_path / "screenshot.png"
    variants = ["model.text.onnx", "model.int8.text.onnx", "model.int8.text.ort", "model.stream.onnx"]
    result = measure.measure(web_tagger, texts, gold=gold, variants=variants, keystrokes=10, screenshot=shot,
                             screenshot_text="They are early birds .")
    _show(capsys, f"browser vs Python, tagger, {len(texts)} held-out sentences", result)
    assert list(result["variants"]) == variants
    for file, s in result["variants"].items():
        assert s["problems"] == [], f"{file}: {s['problems']}"
        assert s["sentences"] == len(texts) >= 300
        assert s["sentences_differing"] == 0, f"{file}: sentences {s['first_differing']} differ from Python"
        assert s["label_mismatches"] == 0 and s["labels_compared"] >= sum(map(len, sentences)) * 0.95
        # float32 agrees to float rounding; int8 requantizes each step's state, so its probabilities
        # move by a few 1e-4 when a float difference flips one rounding (its tags did not move)
        assert s["max_abs_prob_diff"] <= (5e-3 if ".int8." in file else 1e-5), file
        extra = (web_tagger / "vocab.json").stat().st_size if file == "model.stream.onnx" else 0
        assert s["bytes"] == (web_tagger / file).stat().st_size + extra
        if file == "model.stream.onnx":  # a keystroke re-runs the changed token, not the whole text
            assert s["keystroke_steps_per_run"] < 1.5 < 5 < s["keystroke_tokens_per_run"]
        else:
            assert s["keystroke_steps_per_run"] == s["keystroke_tokens_per_run"] > 5
        assert s["load_ms"] > 0 and s["sentence_model_ms_median"] > 0 and s["keystroke_runs"] >= 10
        assert s["hover_first"].startswith("PRON ") or s["hover_first"].split(" ")[0] in config["labels"]["labels"]
        assert s["accuracy_vs_gold"] is not None and s["accuracy_vs_gold"] > 0.8
        assert s["distinct_tags"] >= 8  # a tagger that says NOUN everywhere would agree too easily
    _assert_png(shot)


@pytest.mark.slow
def test_browser_classifies_like_python(browser_ready, web_classifier, mr, capsys):
    folder = web_classifier
    split = mr["test"]  # its first rows are mostly positive: take 50 of each label
    rows = [i for i, y in enumerate(split.labels) if y == "pos"][:50] + [i for i, y in enumerate(split.labels) if y == "neg"][:50]
    rows.sort()
    texts = [" ".join(split.tokens[i]) for i in rows]
    result = measure.measure(folder, texts, gold=[split.labels[i] for i in rows], variants=["model.text.onnx"],
                             keystrokes=3)
    _show(capsys, f"browser vs Python, classifier, {len(texts)} held-out texts", result)
    s = result["variants"]["model.text.onnx"]
    assert s["problems"] == [] and s["sentences"] == 100
    assert s["sentences_differing"] == 0 and s["label_mismatches"] == 0
    assert s["max_abs_prob_diff"] <= 1e-5
    assert s["distinct_labels"] == 2, "the classifier gave one label to every text: agreement would be too easy"


@pytest.mark.slow
def test_page_reports_a_model_that_will_not_load(browser_ready, trained_export, tmp_path):
    """A variant the export does not hold is an error on the page, and the driver fails on it."""
    from pipeline.errors import RnnxError

    server = measure.serve(trained_export("classifier"))
    try:
        with pytest.raises(RnnxError, match="is not one of this export's text models"):
            measure.drive(server.url, ["a film ."], variants=["model.int8.text.ort"], keystrokes=0)
    finally:
        server.shutdown()
        server.server_close()
