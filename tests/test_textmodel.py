"""Self-contained text models: lookup table, in-graph lowercasing, padding, parity with the id model.

The integration tests train tiny real models on slices of Brown and the movie reviews
(the same fixtures the other suites use); :func:`trained_export` caches them for the
whole session, so the deploy test files share two trainings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.data.vocab import Vocabulary
from pipeline.errors import ExportError, RnnxError

# ----------------------------------------------------------------------------- no model needed


def test_spellings_cover_non_ascii_case_and_nothing_else():
    from pipeline.export.text_lookup import c_locale_lower, spellings

    assert spellings("cat") == ["cat"]
    assert set(spellings("école")) == {"école", "École"}
    assert set(spellings("über")) == {"über", "Über"}
    # every spelling lowers to the word and is a fixed point of the C-locale normaliser
    for form in spellings("σοφία"):
        assert form.lower() == "σοφία" and c_locale_lower(form) == form
    assert len(spellings("ééééééééé", limit=64)) == 64


def test_lookup_table_maps_empty_to_padding_and_skips_reserved_entries():
    from pipeline.export.text_lookup import lookup_table

    vocab = Vocabulary(["<pad>", "<unk>", "the", "café"], lowercase=True)
    keys, ids, stats = lookup_table(vocab)
    table = dict(zip(keys, ids))
    assert table[""] == 0
    assert "<pad>" not in table and "<unk>" not in table
    assert table["CAFÉ".lower()] == 3 and table["cafÉ"] == 3
    assert len(keys) == len(set(keys)) == stats["keys"]
    cased = Vocabulary(["<pad>", "<unk>", "The", "café"], lowercase=False)
    assert lookup_table(cased)[0] == ["", "The", "café"]


def test_text_file_names():
    from pipeline.export.textmodel import text_file_name

    assert text_file_name() == "model.text.onnx"
    assert text_file_name("model.onnx", raw=True) == "model.rawtext.onnx"
    assert text_file_name("model.int8.onnx") == "model.int8.text.onnx"


def test_in_graph_normaliser_lowercases_exactly_ascii():
    """StringNormalizer(locale "C") as the text model uses it: the table trick relies on this."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from pipeline.export.text_lookup import c_locale_lower

    node = helper.make_node("StringNormalizer", ["x"], ["y"], case_change_action="LOWER", locale="C")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.STRING, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.STRING, [None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    chars = [chr(c) for c in range(0x20, 0x3000) if chr(c).lower() != chr(c) or chr(c).upper() != chr(c)]
    words = np.array(chars + ["ÉCOLE", "Über", "ΣΟΦΙΑ", "MiXeD"], dtype=object)
    got = sess.run(None, {"x": words})[0]
    assert got.tolist() == [c_locale_lower(w) for w in words]


# ----------------------------------------------------------------------------- real models


@pytest.fixture(scope="module")
def tagger(tmp_path_factory, corpus_files, trained_export):
    return trained_export("tagger")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, corpus_files, trained_export):
    return trained_export("classifier")


@pytest.fixture(scope="module")
def tagger_text(tagger, tmp_path_factory, copy_export_fn):
    from pipeline.export.textmodel import write_text_models

    folder = copy_export_fn(tagger, tmp_path_factory.mktemp("tagger-text"))
    written = write_text_models(folder)
    assert list(written) == ["model.text.onnx"]  # no raw-text model for taggers
    return folder


@pytest.fixture(scope="module")
def classifier_text(classifier, tmp_path_factory, copy_export_fn):
    from pipeline.export.textmodel import write_text_models

    folder = copy_export_fn(classifier, tmp_path_factory.mktemp("classifier-text"))
    written = write_text_models(folder)
    assert set(written) == {"model.text.onnx", "model.rawtext.onnx"}
    return folder


@pytest.mark.slow
def test_text_tagger_matches_id_model_on_heldout_split(tagger_text):
    from pipeline.check.text import check_text_model

    report = check_text_model(tagger_text)["model.text.onnx"]
    held = report["heldout"]
    assert held["positions"] > 1000
    assert held["id_mismatches"] == 0 and held["label_mismatches"] == 0
    assert held["max_abs_diff"] <= 1e-6
    assert held["accuracy"]["text_model"] == held["accuracy"]["id_model"]
    for variant in report["case_variants"].values():
        assert variant["id_mismatches"] == 0
    saved = json.loads((tagger_text / "parity.json").read_text())
    assert saved["model.text.onnx"]["passed"] is True


@pytest.mark.slow
def test_text_tagger_outputs_padding_and_ids(tagger_text, capfd):
    import onnxruntime as ort

    vocab = Vocabulary.from_json(json.loads((tagger_text / "vocab.json").read_text()))
    labels = json.loads((tagger_text / "labels.json").read_text())["labels"]
    sess = ort.InferenceSession(str(tagger_text / "model.text.onnx"), providers=["CPUExecutionProvider"])
    word = vocab.words[2]
    tokens = np.array([[word.upper(), "zzzunseen", "<pad>", ""], ["The", "", "", ""]], dtype=object)
    tags, probs, ids = sess.run(None, {"tokens": tokens})
    assert ids[0].tolist() == [2, 1, 1, 0]  # "<pad>" typed by a user is an unknown word, not padding
    assert tags[0, 3] == "" and tags[1, 1:].tolist() == ["", "", ""]
    assert all(t in labels for t in tags[0, :3])
    assert probs.shape == (2, 4, len(labels))
    empty = sess.run(None, {"tokens": np.zeros((3, 0), dtype=object)})
    assert [o.shape for o in empty] == [(3, 0), (3, 0, len(labels)), (3, 0)]
    for width in (3, 7, 5):  # the id model inside sees width + 1: its symbolic dims must not clash
        sess.run(None, {"tokens": np.full((4, width), word, dtype=object)})
    assert "Shape mismatch" not in capfd.readouterr().err


@pytest.mark.slow
def test_non_ascii_case_spellings_reach_the_python_ids(tagger, tmp_path, monkeypatch):
    """Put non-ASCII words into the vocabulary; their upper/title-case forms must find them."""
    import onnx
    import onnxruntime as ort

    from pipeline.data.vocab import Labels
    from pipeline.export import text_lookup, textmodel

    data = json.loads((tagger / "vocab.json").read_text())
    data["words"][2:6] = ["école", "über", "σοφία", "ñandú"]
    vocab = Vocabulary.from_json(data)
    labels = Labels.from_json(json.loads((tagger / "labels.json").read_text())).names
    tokens = ["ÉCOLE", "École", "ÜBER", "Über", "ΣΟΦΊΑ", "Σοφία", "ÑANDÚ", "Ñandú"]

    def graph_ids(model):
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"tokens": np.array([tokens], dtype=object)})[2][0].tolist()

    id_model = onnx.load(tagger / "model.onnx")
    want = vocab.encode(tokens)
    assert want == [2, 2, 3, 3, 4, 4, 5, 5]
    assert graph_ids(textmodel.build_text_model(id_model, vocab, labels, "tagging")) == want
    # negative control: without the extra spellings the C locale leaves É, Ü, Σ, Ñ upper case
    monkeypatch.setattr(text_lookup, "MAX_SPELLINGS", 1)
    assert graph_ids(textmodel.build_text_model(id_model, vocab, labels, "tagging")) != want


@pytest.mark.slow
def test_check_fails_when_the_vocabulary_disagrees(tagger_text, tmp_path, copy_export_fn):
    from pipeline.check.text import check_text_model

    folder = copy_export_fn(tagger_text, tmp_path)
    data = json.loads((folder / "vocab.json").read_text())
    data["words"][2], data["words"][3] = data["words"][3], data["words"][2]  # Python side now disagrees
    (folder / "vocab.json").write_text(json.dumps(data))
    # the swapped vocabulary no longer matches the checksum the model carries: refused before any comparison
    with pytest.raises(RnnxError, match=r"vocab.json \(sha256 .*the model expects"):
        check_text_model(folder)


@pytest.mark.slow
def test_text_classifier_and_raw_text_model(classifier_text):
    from pipeline.check.text import check_text_model
    from pipeline.runtime.text import TextModel

    reports = check_text_model(classifier_text)
    assert reports["model.text.onnx"]["heldout"]["label_mismatches"] == 0
    joined = reports["model.rawtext.onnx"]["joined"]
    assert joined["label_mismatches"] == 0 and joined["id_mismatches"] == 0 and joined["max_abs_diff"] <= 1e-6

    raw = TextModel(classifier_text / "model.rawtext.onnx")
    text = TextModel(classifier_text / "model.text.onnx")
    assert raw.raw_text and text.task == "classification"
    (label, probs), = raw.predict(["  a   gorgeous , moving film .  "])
    assert (label, probs) == text.predict_tokens([["a", "gorgeous", ",", "moving", "film", "."]])[0]
    # documented difference: only spaces separate tokens inside the graph
    assert raw.run_texts(["good\tfilm"])[0]["ids"].shape == (1,)
    assert raw.run_texts(["good film"])[0]["ids"].shape == (2,)


@pytest.mark.slow
def test_text_model_opsets_and_ir(classifier_text):
    import onnx

    for name, opset, ir in (("model.text.onnx", 17, 8), ("model.rawtext.onnx", 20, 9)):
        model = onnx.load(classifier_text / name)
        imports = {o.domain or "ai.onnx": o.version for o in model.opset_import}
        assert imports["ai.onnx"] == opset and imports["ai.onnx.ml"] == 2 and model.ir_version == ir
        onnx.checker.check_model(model, full_check=True)
        meta = {p.key: p.value for p in model.metadata_props}
        assert json.loads(meta["labels"]) == ["neg", "pos"]


def test_raw_text_is_for_classifiers_only():
    import onnx
    from onnx import TensorProto, helper

    from pipeline.export.textmodel import build_text_model

    graph = helper.make_graph([helper.make_node("Identity", ["ids"], ["probs"])], "g",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, [None, None])],
                              [helper.make_tensor_value_info("probs", TensorProto.INT64, [None, None])])
    model = helper.make_model(graph)
    with pytest.raises(ExportError, match="classifiers only"):
        build_text_model(model, Vocabulary(["<pad>", "<unk>", "a"]), ["X"], "tagging", raw_text=True)
    bad = onnx.ModelProto()
    bad.CopyFrom(model)
    bad.graph.input[0].name = "x"
    bad.graph.node[0].input[0] = "x"
    with pytest.raises(ExportError, match="exactly one input 'ids'"):
        build_text_model(bad, Vocabulary(["<pad>", "<unk>", "a"]), ["X"], "tagging")
