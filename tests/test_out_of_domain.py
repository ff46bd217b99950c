"""Out-of-domain evaluation: the evaluation-only datasets (ewt-upos, the rated sentiment sets) and
``rnnx evaluate RUN --data NAME``, on tiny archives and tiny models made here (no fetch)."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile

import pytest

from pipeline.cli import main
from pipeline.data import datasets, ewt, mr
from pipeline.data.corpus import Split
from pipeline.errors import ConfigError, DataError

CONLLU = (
    "# sent_id = a-1\n# text = I don't like Google's search-engine :)\n"
    "1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_\n"
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_\n"
    "3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_\n"
    "4\tlike\tlike\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "5-6\tGoogle's\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "5\tGoogle\tGoogle\tPROPN\tNNP\t_\t9\tnmod:poss\t_\t_\n"
    "6\t's\t's\tPART\tPOS\t_\t5\tcase\t_\t_\n"
    "7\tsearch\tsearch\tNOUN\tNN\t_\t9\tcompound\t_\tSpaceAfter=No\n"
    "8\t-\t-\tPUNCT\tHYPH\t_\t9\tpunct\t_\tSpaceAfter=No\n"
    "9\tengine\tengine\tNOUN\tNN\t_\t4\tobj\t_\t_\n"
    "10\t:)\t:)\tSYM\tNFP\t_\t4\tdiscourse\t_\t_\n"
    "\n"
    "# sent_id = a-2\n"
    "1\tThere\tthere\tPRON\tEX\t_\t2\texpl\t_\t_\n"
    "2-3\tit's\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tit\tit\tPRON\tPRP\t_\t4\tnsubj\t_\t_\n"
    "3\t's\tbe\tAUX\tVBZ\t_\t4\tcop\t_\t_\n"
    "3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t4:orphan\t_\n"
    "4\tup\tup\tADP\tRP\t_\t0\troot\t_\t_\n"
    "5\tif\tif\tSCONJ\tIN\t_\t4\tmark\t_\t_\n"
    "6\tmy\tmy\tPRON\tPRP$\t_\t4\tnmod\t_\t_\n"
    "7\tsomething\tsomething\tPRON\tNN\t_\t4\tobj\t_\t_\n"
    "8\tlol\tlol\tINTJ\tUH\t_\t4\tdiscourse\t_\t_\n"
)


def test_conllu_words_become_brown_tokens_and_tags():
    (w1, t1), (w2, t2) = ewt.parse_conllu(CONLLU, "x.conllu")
    assert w1 == ["I", "don't", "like", "Google's", "search", "-", "engine", ":)"]
    assert t1 == ["PRON", "VERB", "VERB", "NOUN", "NOUN", ".", "NOUN", "."]
    assert w2 == ["There", "it's", "up", "if", "my", "something", "lol"]  # the empty node 3.1 is no token
    assert t2 == ["PRT", "PRT", "PRT", "ADP", "DET", "NOUN", "PRT"]


def test_conllu_damage_and_unknown_tags_are_named():
    with pytest.raises(DataError, match="line 1: expected 10"):
        ewt.parse_conllu("1\tI\tI\tPRON\n", "x.conllu")
    with pytest.raises(DataError, match="line 1: UPOS tag 'FOO'"):
        ewt.parse_conllu("1\tI\tI\tFOO\tPRP\t_\t0\troot\t_\t_\n", "x.conllu")


def _tgz(path, members: dict[str, bytes]):
    """A .tar.gz of ``members`` at ``path`` (a file path, or a BytesIO to fill)."""
    opened = tarfile.open(fileobj=path, mode="w:gz") if isinstance(path, io.BytesIO) else tarfile.open(path, "w:gz")
    with opened as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_ewt_archive_gives_dev_and_test(tmp_path):
    path = _tgz(tmp_path / "p.tgz", {m: CONLLU.encode() for m in ewt.MEMBERS.values()})
    splits = ewt.read_archive(path)
    assert set(splits) == {"dev", "test"}
    assert splits["test"].source == "ewt-upos:test" and splits["test"].num_tokens == 15
    assert splits["test"].meta["licence"].startswith("CC BY-SA 4.0")
    with pytest.raises(DataError, match="is missing"):
        ewt.read_archive(_tgz(tmp_path / "q.tgz", {"package/other.conllu": b""}))


def _vader_sdist(path):
    rated = {
        "amazonReviewSnippets_GroundTruth.txt": "1_1\t-0.9\tno picture , it's broken.\r\n1_2\t0.0\tneutral\r\n"
                                                "1_3\t1.5\tgreat player\r\n",
        "tweets_GroundTruth.txt": "1\t2.7\tSo lucky &amp; happy\r\n2\t-1.0\tugh\r\n",
        "nytEditorialSnippets_GroundTruth.txt": "1_1\t0.4\tOn Dec. 19\r\n",
    }
    inner = io.BytesIO()
    _tgz(inner, {f"hutto_ICWSM_2014/{k}": v.encode() for k, v in rated.items()})
    return _tgz(path, {mr.INNER_ARCHIVE: inner.getvalue()})


def test_rated_sets_use_mr_label_rule_and_tokenizer(tmp_path):
    path = _vader_sdist(tmp_path / "vader.tar.gz")
    amazon = mr.read_rated(path, "amazon-sentiment")["test"]
    assert amazon.labels == ["neg", "pos"] and amazon.meta["dropped_neutral"] == 1
    assert amazon.tokens[0] == ["no", "picture", ",", "it", "'s", "broken", "."]
    tweets = mr.read_rated(path, "tweets-sentiment")
    assert list(tweets) == ["test"] and tweets["test"].labels == ["pos", "neg"]
    assert mr.read_rated(path, "nyt-sentiment")["test"].source == "nyt-sentiment:test"


def test_evaluation_only_datasets_are_registered_without_train():
    names = {n for n, d in datasets.DATASETS.items() if d.evaluation_only}
    assert names == {"ewt-upos", "amazon-sentiment", "tweets-sentiment", "nyt-sentiment"}
    assert not datasets.DATASETS["brown-upos"].evaluation_only
    assert all(r["evaluation_only"] == (r["name"] in names) for r in datasets.list_datasets())
    splits = datasets.EvaluationSplits("ewt-upos", {"test": Split("tagging", [["a"]], [["X"]])})
    assert "train" not in splits
    with pytest.raises(ConfigError, match="evaluation-only dataset .*rnnx evaluate RUN --data ewt-upos"):
        splits["train"]


# ----------------------------------------------------------------------------- rnnx evaluate --data NAME

TAGGED = [("the dog runs .", "DET NOUN VERB ."), ("a cat sleeps .", "DET NOUN VERB ."),
          ("the bird sings .", "DET NOUN VERB ."), ("a dog sleeps .", "DET NOUN VERB .")]
RATED = [("pos", "a great film"), ("neg", "a bad film"), ("pos", "great fun"), ("neg", "bad and dull")]


def _toy(name, task, splits):
    return dataclasses.replace(datasets.DATASETS["ewt-upos" if task == "tagging" else "tweets-sentiment"],
                               name=name, archive_file=f"{name}.none", loader=lambda: splits)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny tagger and a tiny classifier, one epoch each on a handful of lines."""
    from pipeline.train.fit import run_spec, train

    root = tmp_path_factory.mktemp("ood")
    (root / "tags.txt").write_text("".join(" ".join(f"{w}/{t}" for w, t in zip(s.split(), g.split())) + "\n"
                                           for s, g in TAGGED * 3), encoding="utf-8")
    (root / "texts.tsv").write_text("".join(f"{y}\t{x}\n" for y, x in RATED * 3), encoding="utf-8")
    out = {}
    for kind, data, task in (("tagger", "tags.txt", "tagging"), ("classifier", "texts.tsv", "classification")):
        spec = run_spec(kind, str(root / data), task=task, cell="gru", bidirectional=False, units=4,
                        embedding_dim=4, epochs=1, batch_size=4, verbose=0)
        out[kind] = train(spec, root=root / "saved_models")
    return root, out


@pytest.fixture
def toy_registry(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNX_CACHE", str(tmp_path / "cache"))
    tagged = {"dev": Split("tagging", [["the", "cow", "runs", "."]], [["DET", "NOUN", "VERB", "."]], "toy-pos:dev"),
              "test": Split("tagging", [["a", "dog", "sings", "!"], ["the", "emu", "runs"]],
                            [["DET", "NOUN", "VERB", "."], ["DET", "NOUN", "VERB"]], "toy-pos:test")}
    rated = {"test": Split("classification", [["great", "film"], ["dull"], ["bad", "fun"]], ["pos", "neg", "neg"],
                           "toy-sentiment:test")}
    reg = dict(datasets.DATASETS)
    reg["toy-pos"] = _toy("toy-pos", "tagging", tagged)
    reg["toy-sentiment"] = _toy("toy-sentiment", "classification", rated)
    reg["toy-ner"] = _toy("toy-ner", "tagging", {"test": Split("tagging", [["Bob"]], [["B-PER"]], "toy-ner:test")})
    monkeypatch.setattr(datasets, "DATASETS", reg)


def test_evaluate_tagger_on_a_builtin_eval_set_reports_oov(runs, toy_registry, tmp_path, capsys):
    root, folders = runs
    out = tmp_path / "ev"
    assert main(["evaluate", str(folders["tagger"]), "--data", "toy-pos", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "toy-pos:test" and report["tokens"] == 7
    # OOV relative to the run's vocabulary: "!" and "emu" were never in its training lines
    assert report["out_of_vocab"]["tokens"] == 2 and report["in_vocab"]["tokens"] == 5
    assert (out / "eval_toy_pos_test.json").is_file()
    assert main(["evaluate", str(folders["tagger"]), "--data", "toy-pos", "--split", "dev", "--out", str(out),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 4


def test_evaluate_classifier_on_a_builtin_eval_set(runs, toy_registry, tmp_path, capsys):
    root, folders = runs
    assert main(["evaluate", str(folders["classifier"]), "--data", "toy-sentiment", "--out", str(tmp_path),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "toy-sentiment:test" and 0 <= report["accuracy"] <= 1


@pytest.mark.parametrize("args, message", [
    (["--data", "toy-sentiment", "--split", "dev"], "toy-sentiment has no dev split; its splits are test"),
    (["--data", "toy-sentiment"], "holds classification data but"),
    (["--data", "toy-ner"], "has labels .* never predicts \\(B-PER\\)"),
])
def test_evaluate_mismatches_are_one_line_errors(runs, toy_registry, tmp_path, capsys, args, message):
    import re

    root, folders = runs
    assert main(["evaluate", str(folders["tagger"]), *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and re.search(message, err), err


def test_training_on_an_eval_only_set_is_a_one_line_error(toy_registry, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "toy-pos", "--name", "x", "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "toy-pos is an evaluation-only dataset" in err and "\n" not in err
