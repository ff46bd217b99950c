"""The rnnx command end to end on a small real run, and bad input at the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]

NO_TF = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'):\n"
    "            raise ImportError(f'{name} is blocked in this test')\n"
    "sys.meta_path.insert(0, Block())\n"
    "from pipeline.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "loaded = [m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules]\n"
    "assert not loaded, loaded\n"
    "sys.exit(code)\n"
)


def rnnx_no_tf(*args, cwd):
    """Run `rnnx ARGS` in a subprocess where TensorFlow, Keras and tf2onnx cannot be imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", NO_TF, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_every_command_has_help_with_an_example(capsys):
    assert set(COMMANDS) == {"data", "pretrain-lm", "train", "evaluate", "export", "check", "bench", "predict",
                             "demo", "experiment", "web"}
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([name, "--help"])
        assert exc.value.code == 0
        assert "Example: rnnx " + name in capsys.readouterr().out


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, brown_files):
    """A tagger trained, exported, checked and benched through the CLI."""
    work = tmp_path_factory.mktemp("cli")
    cwd = os.getcwd()
    os.chdir(work)
    try:
        assert main(["train", "--data", str(brown_files["train"]), "--dev", str(brown_files["dev"]),
                     "--test", str(brown_files["test"]), "--name", "pos", "--cell", "gru", "--units", "16",
                     "--embedding-dim", "16", "--epochs", "1", "--quiet"]) == 0
        assert main(["export", "saved_models/pos"]) == 0
        assert main(["check", "export/pos"]) == 0
        assert main(["bench", "export/pos", "--budget", "0.02"]) == 0
    finally:
        os.chdir(cwd)
    return work


@pytest.mark.slow
def test_cli_writes_the_artifacts(cli_run):
    parity = json.loads((cli_run / "export/pos/parity.json").read_text())["model.onnx"]
    assert parity["passed"] and parity["heldout"]["max_abs_diff"] < 1e-4
    bench = json.loads((cli_run / "export/pos/bench.json").read_text())["model.onnx"]
    runners = {k for row in bench["rows"] for k, v in row.items() if isinstance(v, dict)}
    assert runners == {"ort-1t", "ort-all", "keras-tf.function", "keras-predict"}
    assert {(r["batch"], r["length"]) for r in bench["rows"]} == {
        (b, n) for b in (1, 8, 32) for n in ("short", "median", "long")}
    assert all(r["ort-1t"]["p50_ms"] > 0 for r in bench["rows"])


@pytest.mark.slow
def test_evaluate_on_a_user_file_json(cli_run, brown_files, capsys):
    cwd = os.getcwd()
    os.chdir(cli_run)
    try:
        assert main(["evaluate", "saved_models/pos", "--data", str(brown_files["test"]), "--json"]) == 0
    finally:
        os.chdir(cwd)
    report = json.loads(capsys.readouterr().out)
    assert 0 < report["accuracy"] <= 1
    assert "per_label" in report or "labels" in report


@pytest.mark.slow
def test_predict_runs_without_tensorflow(cli_run):
    out = rnnx_no_tf("predict", "export/pos", "They are early birds .", "--json", cwd=cli_run)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result[0]["tokens"] == ["They", "are", "early", "birds", "."]
    assert len(result[0]["tags"]) == 5


@pytest.mark.slow
def test_predict_file_round_trips_the_format(cli_run, brown_files):
    out_path = cli_run / "pred.txt"
    res = rnnx_no_tf("predict", "export/pos", "--input", brown_files["test"], "--output", out_path, cwd=cli_run)
    assert res.returncode == 0, res.stderr
    gold = brown_files["test"].read_text().splitlines()
    pred = out_path.read_text().splitlines()
    assert len(pred) == len(gold)
    for g, p in zip(gold, pred):
        assert [t.rsplit("/", 1)[0] for t in g.split()] == [t.rsplit("/", 1)[0] for t in p.split()]


@pytest.mark.slow
@pytest.mark.parametrize("text,expected_len", [
    ("", 0),                                   # empty text: no tokens, no tags
    ("qwzx vbnmq zzyzx", 3),                   # unknown words only
    (" ".join(["word"] * 1000), 1000),         # a 1,000-token sentence
])
def test_predict_edge_inputs(cli_run, text, expected_len):
    out = rnnx_no_tf("predict", "export/pos", text, "--json", cwd=cli_run)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)[0]["tags"]) == expected_len


@pytest.mark.parametrize("argv,needle", [
    (["predict", "export/nothing-here", "hello"], "export/nothing-here"),
    (["check", "export/nothing-here"], "export/nothing-here"),
    (["export", "saved_models/nothing-here"], "saved_models/nothing-here"),
    (["evaluate", "saved_models/nothing-here"], "saved_models/nothing-here"),
    (["train", "--data", "no-such-corpus", "--name", "x"], "no-such-corpus"),
    (["data", "show", "no/such/file.conllu"], "no/such/file.conllu"),
])
def test_missing_things_give_a_clear_error(tmp_path, argv, needle, capsys):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(argv) == 2
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_wrong_column_count_is_reported_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tcat\tcat\tNOUN\n\n", encoding="utf-8")
    assert main(["data", "show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.conllu" in err and "line 2" in err


@pytest.mark.slow
def test_check_fails_loudly_when_onnx_disagrees(cli_run, tmp_path, capsys):
    """Perturb the exported output bias: `rnnx check` must exit 1, name the difference and record it."""
    import shutil

    import numpy as np
    import onnx
    from onnx import numpy_helper

    bad = tmp_path / "pos-bad"
    shutil.copytree(cli_run / "export/pos", bad)
    model = onnx.load(bad / "model.onnx")
    biases = [t for t in model.graph.initializer if numpy_helper.to_array(t).ndim == 1
              and numpy_helper.to_array(t).shape[0] == len(json.loads((bad / "labels.json").read_text())["labels"])]
    assert biases, "the output layer's bias should be an initializer"
    value = numpy_helper.to_array(biases[0]).copy()
    value[0] += 0.5
    biases[0].CopyFrom(numpy_helper.from_array(value.astype(np.float32), biases[0].name))
    onnx.save(model, bad / "model.onnx")

    assert main(["check", str(bad), "--run", str(cli_run / "saved_models/pos")]) == 1
    err = capsys.readouterr().err
    assert "fails parity" in err and "max |keras - onnx|" in err
    report = json.loads((bad / "parity.json").read_text())["model.onnx"]
    assert report["passed"] is False and report["heldout"]["max_abs_diff"] > 1e-4


def test_data_list_and_show(capsys):
    assert main(["data", "list", "--json"]) == 0
    names = {d["name"] for d in json.loads(capsys.readouterr().out)}
    assert names == {"brown-upos", "mr", "conll2003-ner", "ewt-upos", "amazon-sentiment", "tweets-sentiment",
                     "nyt-sentiment"}
    assert main(["data", "show", "mr", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["train"]["sequences"], info["dev"]["sequences"], info["test"]["sequences"]) == (8451, 1059, 1058)
    assert set(info["train"]["labels"]) == {"neg", "pos"}
    assert main(["data", "show", "brown-upos"]) == 0
    table = capsys.readouterr().out
    assert "46,175 sequences" in table and "NOUN" in table
