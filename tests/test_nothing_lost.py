"""Nothing lost, nothing silently wrong: folders rnnx owns, files bound to their model, --resume as a
compatibility check, check/evaluate on a user's TSV, copied exports, a quiet start.

Every run here is a tiny GRU classifier trained for one epoch on a user TSV of real movie-review snippets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main

pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--cell", "gru", "--units", "8", "--embedding-dim", "8", "--epochs", "1", "--quiet",
         "--no-bidirectional"]


class chdir:
    def __init__(self, path):
        self.path, self.old = path, None

    def __enter__(self):
        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.old)


def rnnx(work, *argv) -> int:
    with chdir(work):
        return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def work(tmp_path_factory, mr_files):
    """Two runs on a user TSV (``a``: with --test, ``b``: other data, no --test), both exported."""
    work = tmp_path_factory.mktemp("nothing-lost")
    for name in ("train", "dev", "test"):
        shutil.copy(mr_files[name], work / f"{name}.tsv")
    assert rnnx(work, "train", "--data", "train.tsv", "--dev", "dev.tsv", "--test", "test.tsv", "--name", "a",
                *SMALL) == 0
    assert rnnx(work, "train", "--data", "test.tsv", "--name", "b", *SMALL) == 0
    assert rnnx(work, "export", "saved_models/a") == 0
    assert rnnx(work, "export", "saved_models/b") == 0
    return work


# ----------------------------------------------------------------------------- item 1: folders rnnx owns


def test_export_never_replaces_a_folder_it_did_not_write(work, capsys):
    mine = work / "export" / "notes"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes", encoding="utf-8")
    for extra in ([], ["--force"]):
        assert rnnx(work, "export", "saved_models/a", "--name", "notes", *extra) == 2
        err = capsys.readouterr().err
        assert "not an rnnx export" in err and "Traceback" not in err
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "my notes"
    assert sorted(p.name for p in (work / "export").iterdir() if p.name.startswith(".notes.partial")) == []


def test_an_export_is_replaced_only_with_force(work, capsys):
    assert rnnx(work, "export", "saved_models/b", "--name", "a") == 2
    assert "--force" in capsys.readouterr().err
    assert json.loads((work / "export/a/export.json").read_text())["source_run_name"] == "a"
    assert rnnx(work, "export", "saved_models/a", "--name", "a2") == 0
    assert (work / "export/a2/.rnnx-export").is_file()
    assert rnnx(work, "export", "saved_models/b", "--name", "a2", "--force") == 0
    assert json.loads((work / "export/a2/export.json").read_text())["source_run_name"] == "b"


def test_train_never_replaces_a_folder_it_did_not_write(work, capsys):
    mine = work / "saved_models" / "mine"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep", encoding="utf-8")
    assert rnnx(work, "train", "--data", "train.tsv", "--name", "mine", "--force", *SMALL) == 2
    assert "not an rnnx run" in capsys.readouterr().err
    assert (mine / "notes.txt").exists()
    stale = work / "saved_models" / "mine2.partial"
    stale.mkdir()
    (stale / "notes.txt").write_text("keep", encoding="utf-8")
    assert rnnx(work, "train", "--data", "train.tsv", "--name", "mine2", "--force", *SMALL) == 2
    assert (stale / "notes.txt").exists()


@pytest.mark.parametrize("name", ["../escaped", "ABSOLUTE", "a/b", "..", ".hidden", "x.partial", ""])
def test_names_must_be_plain_folder_names(work, name, tmp_path, capsys):
    absolute = tmp_path / "absolute-name"
    name = str(absolute) if name == "ABSOLUTE" else name
    assert rnnx(work, "export", "saved_models/a", "--name", name) == 2
    assert rnnx(work, "train", "--data", "train.tsv", "--name", name, *SMALL) == 2
    err = capsys.readouterr().err
    assert "plain folder name" in err and "Traceback" not in err
    assert not (work / "escaped").exists() and not absolute.exists()


def test_a_second_writer_of_the_same_export_is_refused(work):
    """Two exports into one name at once: the second fails at once; the folder stays whole."""
    from pipeline.artifacts import target_lock
    from pipeline.errors import ConfigError
    from pipeline.export.exporter import export_run

    target = work / "export" / "race"
    with chdir(work):
        with target_lock(target):  # another rnnx process is writing export/race
            with pytest.raises(ConfigError, match="another rnnx process"):
                export_run("saved_models/b", name="race", force=True)
        export_run("saved_models/a", name="race")
    assert (target / "model.onnx").is_file() and (target / "export.json").is_file()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".race.partial")]


@pytest.mark.slow
def test_concurrent_exports_leave_a_complete_folder(work):
    """Two processes export different runs into one name at once: one wins, the other is told; never a
    folder without model.onnx."""
    code = "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, "export", f"saved_models/{run}", "--name", "both",
                               "--force", "--no-text"], cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for run in ("a", "b")]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(code in (0, 2) for code, _ in results), results
    assert any(code == 0 for code, _ in results)
    for code, err in results:
        assert "Traceback" not in err
    assert (work / "export/both/model.onnx").is_file() and (work / "export/both/.rnnx-export").is_file()


# ----------------------------------------------------------------------------- item 2: files bound by checksum


def test_a_vocabulary_from_another_export_is_refused(work, tmp_path, capsys):
    bad = tmp_path / "a-wrong-vocab"
    shutil.copytree(work / "export/a", bad)
    shutil.copy(work / "export/b/vocab.json", bad / "vocab.json")
    assert rnnx(work, "predict", bad, "a fine film") == 2
    err = capsys.readouterr().err
    assert "vocab.json" in err and "not the file" in err
    assert rnnx(work, "check", bad, "--run", "saved_models/a") == 2
    assert "vocab.json" in capsys.readouterr().err


def test_labels_from_elsewhere_are_refused(work, tmp_path, capsys):
    bad = tmp_path / "a-wrong-labels"
    shutil.copytree(work / "export/a", bad)
    labels = json.loads((bad / "labels.json").read_text())
    (bad / "labels.json").write_text(json.dumps({"labels": labels["labels"][::-1]}))
    assert rnnx(work, "predict", bad, "a fine film") == 2
    assert "labels.json" in capsys.readouterr().err


def test_a_run_refuses_a_swapped_vocabulary(work, tmp_path, capsys):
    run = tmp_path / "saved_models" / "a"
    shutil.copytree(work / "saved_models/a", run)
    shutil.copy(work / "saved_models/b/vocab.json", run / "vocab.json")
    assert rnnx(work, "evaluate", run, "--out", tmp_path / "ev") == 2
    assert rnnx(work, "export", run, "--out", tmp_path / "ex") == 2
    err = capsys.readouterr().err
    assert "vocab.json" in err and "trained with" in err


# ----------------------------------------------------------------------------- item 3: --resume


def _interrupt_after_first_epoch(monkeypatch):
    import keras

    from pipeline.train import fit

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    original = fit._callbacks
    monkeypatch.setattr(fit, "_callbacks", lambda *a: original(*a) + [Boom()])


def test_resume_is_a_compatibility_check(work, monkeypatch, capsys):
    args = ["train", "--data", "train.tsv", "--dev", "dev.tsv", "--name", "r", "--cell", "gru", "--units", "8",
            "--embedding-dim", "8", "--epochs", "2", "--patience", "5", "--quiet", "--no-bidirectional"]
    with monkeypatch.context() as m:
        _interrupt_after_first_epoch(m)
        assert rnnx(work, *args) == 130
    err = capsys.readouterr().err
    partial = work / "saved_models/r.partial"
    assert "--resume" in err and "r.partial" in err  # SIGINT says where the epochs are and how to continue
    config_before = (partial / "config.json").read_bytes()
    seconds_before = json.loads((partial / "timing.json").read_text())["train_seconds"]

    other_data = [a if a != "train.tsv" else "test.tsv" for a in args]
    assert rnnx(work, *other_data, "--resume") == 2
    err = capsys.readouterr().err
    assert "--data test.tsv is not the data" in err and "Traceback" not in err
    other_units = [a if a != "8" else "12" for a in args]
    assert rnnx(work, *other_units, "--resume") == 2
    err = capsys.readouterr().err
    assert "--units 12 (was 8)" in err and "Traceback" not in err
    assert (partial / "config.json").read_bytes() == config_before  # the interrupted run is untouched

    assert rnnx(work, *args, "--resume") == 0
    metrics = json.loads((work / "saved_models/r/metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    assert metrics["train_seconds"] >= seconds_before  # the epochs before the interruption count too


def test_a_failed_first_attempt_leaves_nothing_to_resume(work, capsys):
    one = work / "one-class.tsv"
    one.write_text("".join(line for line in (work / "train.tsv").read_text().splitlines(True)
                           if line.startswith("pos\t")), encoding="utf-8")
    assert rnnx(work, "train", "--data", one, "--name", "retry", *SMALL) == 2
    assert "only one class" in capsys.readouterr().err
    assert not (work / "saved_models/retry.partial").exists()
    assert rnnx(work, "train", "--data", "train.tsv", "--name", "retry", *SMALL) == 0  # no --resume needed


def test_interrupted_in_the_first_epoch_keeps_nothing(work, monkeypatch, capsys):
    import keras

    from pipeline.train import fit

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    original = fit._callbacks
    monkeypatch.setattr(fit, "_callbacks", lambda *a: original(*a) + [Stop()])
    assert rnnx(work, "train", "--data", "train.tsv", "--name", "early", *SMALL) == 130
    assert "nothing was kept" in capsys.readouterr().err
    assert not (work / "saved_models/early.partial").exists()


# ----------------------------------------------------------------------------- items 7, 8: check and evaluate


def test_check_a_classifier_trained_on_a_user_tsv(work, capsys):
    """End to end on a user TSV: check passes, prints its table and its JSON (no raw texts to measure)."""
    assert rnnx(work, "check", "export/a") == 0
    out = capsys.readouterr().out
    assert "model.rawtext.onnx" in out and "not measured" in out
    assert rnnx(work, "check", "export/a", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model.onnx"]["passed"] and report["model.rawtext.onnx"]["raw_text"]["measured"] is False


def test_evaluate_writes_outside_the_run(work, capsys):
    before = sorted(p.name for p in (work / "saved_models/a").iterdir())
    assert rnnx(work, "evaluate", "saved_models/a", "--data", "dev.tsv") == 0
    assert (work / "evaluations/a/eval_dev_tsv.json").is_file()
    assert (work / "evaluations/a/eval_dev_tsv_confusion.png").is_file()
    assert "written: evaluations/a/eval_dev_tsv.json" in capsys.readouterr().out
    assert rnnx(work, "evaluate", "saved_models/a", "--out", "elsewhere", "--json") == 0
    assert json.loads(capsys.readouterr().out)["written"] == "elsewhere/eval_test.json"
    assert sorted(p.name for p in (work / "saved_models/a").iterdir()) == before


def test_a_run_without_test_split_says_its_score_is_dev(work, capsys):
    metrics = json.loads((work / "saved_models/b/metrics.json").read_text())
    assert "test" not in metrics and "early stopping" in metrics["note"]
    assert rnnx(work, "evaluate", "saved_models/b", "--split", "dev") == 0
    assert "early stopping" in capsys.readouterr().out
    assert rnnx(work, "evaluate", "saved_models/b") == 2  # --split test: there is none, and it says why
    assert "early stopping" in capsys.readouterr().err
    from pipeline.train.summary import format_run_metrics

    assert "early stopping" in format_run_metrics("saved_models/b", metrics)


# ----------------------------------------------------------------------------- item 9


def test_a_copied_export_checks_against_run_and_predicts_alone(work, tmp_path, capsys):
    info = json.loads((work / "export/a/export.json").read_text())
    assert not Path(info["source_run"]).is_absolute()
    elsewhere = tmp_path / "machine2"
    shutil.copytree(work / "export/a", elsewhere / "deploy/pos-model")
    shutil.copytree(work / "saved_models/a", elsewhere / "runs/a")
    for name in ("train", "dev", "test"):
        shutil.copy(work / f"{name}.tsv", elsewhere / f"{name}.tsv")
    assert rnnx(elsewhere, "check", "deploy/pos-model", "--run", "runs/a") == 0
    assert rnnx(elsewhere, "predict", "deploy/pos-model", "a fine film", "--json") == 0
    capsys.readouterr()


def test_tensorflow_start_up_lines_are_hidden_unless_verbose(tmp_path):
    code = ("import sys; from pipeline.keras_env import quiet_startup; quiet_startup('-v' in sys.argv); "
            "import tensorflow")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNNX_VERBOSE")}
    env["PYTHONPATH"] = str(ROOT)
    quiet = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert "absl::InitializeLog" not in quiet.stderr and "oneDNN" not in quiet.stderr
    assert "cuda drivers" not in quiet.stderr
    assert quiet.stderr.strip() == ""


def test_keras_file_exports_carry_the_marker_and_keep_foreign_folders(tmp_path):
    import keras

    from pipeline.errors import ConfigError
    from pipeline.export.keras_file import export_keras_file

    x = keras.Input((None, 3), name="x")
    keras.Model(x, keras.layers.GRU(2)(x)).save(tmp_path / "m.keras")
    folder = export_keras_file(tmp_path / "m.keras", out_root=tmp_path / "export").folder
    assert (folder / ".rnnx-export").is_file()
    with pytest.raises(ConfigError, match="--force"):
        export_keras_file(tmp_path / "m.keras", out_root=tmp_path / "export")
    assert export_keras_file(tmp_path / "m.keras", out_root=tmp_path / "export", force=True).folder == folder
    foreign = tmp_path / "export" / "n.partial"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match="did not write"):
        export_keras_file(tmp_path / "m.keras", out_root=tmp_path / "export", name="n")
    assert (foreign / "notes.txt").exists()


def test_replace_dir_is_the_one_way_folders_are_replaced(tmp_path):
    from pipeline.artifacts import is_owned, replace_dir, staging_dir
    from pipeline.errors import ConfigError

    target = tmp_path / "x"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    staging = staging_dir(target, "export")
    with pytest.raises(ConfigError, match="not an rnnx export folder"):
        replace_dir(staging, target, kind="export", force=True)
    assert (target / "notes.txt").exists()
    shutil.rmtree(target)
    replace_dir(staging, target, kind="export", force=False)  # new: no --force needed
    assert is_owned(target, "export") and not is_owned(target, "run")
    again = staging_dir(target, "export")
    with pytest.raises(ConfigError, match="--force"):
        replace_dir(again, target, kind="export", force=False)
    replace_dir(again, target, kind="export", force=True)
    assert not again.exists() and not (tmp_path / ".x.old").exists()


def test_check_against_another_run_is_refused(work, capsys):
    assert rnnx(work, "check", "export/a", "--run", "saved_models/b") == 2
    assert "is not the run" in capsys.readouterr().err
