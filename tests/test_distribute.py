"""tf.distribute: MirroredStrategy over two logical CPU devices, and
MultiWorkerMirroredStrategy as two local processes on loopback ports, train models
that export and pass parity; a multi-worker run resumes after a crash; a bad
TF_CONFIG gets a clear answer."""

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus(tmp_path, brown_files):
    # logical devices must be configured before TensorFlow starts: a fresh process
    cmd = [sys.executable, "-m", "pipeline.cli", "train", "--data", str(brown_files["train"]),
           "--dev", str(brown_files["dev"]), "--test", str(brown_files["test"]), "--name", "mirrored",
           "--cell", "gru", "--units", "8", "--epochs", "1", "--strategy", "mirrored", "--logical-cpus", "2",
           "--quiet"]
    res = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    config = json.loads((tmp_path / "saved_models/mirrored/config.json").read_text())
    assert config["strategy"] == {"name": "mirrored", "replicas": 2}

    from pipeline.export.exporter import export_run
    from pipeline.check.parity import check_export

    result = export_run(tmp_path / "saved_models/mirrored", out_root=tmp_path / "export")
    assert check_export(result.folder, random_count=2)["passed"]


@pytest.mark.parametrize("tf_config,needle", [
    (None, "needs TF_CONFIG"),
    ("{not json", "not valid JSON"),
    ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 2}}',
     "task index 2 is out of range"),
    ('{"cluster": {}, "task": {"type": "worker", "index": 0}}', "names no \"worker\""),
])
def test_multiworker_answers_clearly(tmp_path, brown_files, monkeypatch, capsys, tf_config, needle):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--data", str(brown_files["train"]), "--name", "mw", "--strategy", "multiworker",
                 "--quiet"])
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "saved_models").exists()  # nothing written


def test_loop_bookkeeping_without_tensorflow(tmp_path):
    from pipeline.errors import RnnxError
    from pipeline.train.loop import LoopState, append_history, end_epoch, history_row
    from pipeline.train.rundir import RunFiles

    # early stopping follows Keras's EarlyStopping: patience counts epochs without improvement
    state = LoopState().after(0, 0.9).after(1, 0.8).after(2, 0.85)
    assert (state.best_epoch, state.wait, state.should_stop(1), state.should_stop(2)) == (1, 1, True, False)
    # a NaN loss stops every worker with a message that says what to do (before anything is written)
    files = RunFiles(tmp_path)
    with pytest.raises(RnnxError, match="NaN/inf loss in epoch 3.*lower --lr"):
        end_epoch(None, files, state, 2, {"loss": float("nan"), "accuracy": 0.1, "val_loss": 1.0,
                                          "val_accuracy": 0.1})
    assert not files.history_csv.exists()
    append_history(files.history_csv, history_row(0, {"loss": 1.5, "accuracy": 0.5, "val_loss": 1.25,
                                                      "val_accuracy": 0.625}))
    assert files.history_csv.read_text().splitlines() == ["epoch,accuracy,loss,val_accuracy,val_loss",
                                                           "0,0.5,1.5,0.625,1.25"]


# ---- two workers as two local processes --------------------------------------------------------

# Runs before `rnnx train` in a worker (python -c): prints what each finished epoch summed over the
# cluster, and with RNNX_TEST_CRASH_AFTER=N dies like a killed process right after epoch N.
WORKER_PRELUDE = """
import os, sys
import pipeline.train.loop as loop
means, end_epoch = loop._means, loop.end_epoch
def traced_means(sums):
    print("rnnx-test sums", " ".join(str(float(v)) for v in sums), flush=True)
    return means(sums)
def traced_end_epoch(model, files, state, epoch, logs, **kw):
    state = end_epoch(model, files, state, epoch, logs, **kw)
    print("rnnx-test epoch", epoch, flush=True)
    if state.epochs_done == int(os.environ.get("RNNX_TEST_CRASH_AFTER", "0")):
        os._exit(17)
    return state
loop._means, loop.end_epoch = traced_means, traced_end_epoch
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _train_args(brown_files, name: str) -> list[str]:
    return ["train", "--data", str(brown_files["train"]), "--dev", str(brown_files["dev"]),
            "--test", str(brown_files["test"]), "--name", name, "--cell", "gru", "--units", "8",
            "--epochs", "2", "--strategy", "multiworker", "--quiet"]


def _run_workers(cwd: Path, args: list[str], *, traced: bool = False, env: dict | None = None, timeout: int = 240):
    """Start worker 0 (the chief) and worker 1 of one cluster; wait for both.

    Each worker's TMPDIR is ``cwd/tmp<index>`` (where a non-chief keeps its temporary run).
    """
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    launcher = [sys.executable, "-c", WORKER_PRELUDE] if traced else [sys.executable, "-m", "pipeline.cli"]
    procs = []
    for index in range(2):
        tmp = cwd / f"tmp{index}"
        tmp.mkdir(exist_ok=True)
        worker_env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp),
                      "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen(launcher + args, cwd=cwd, env=worker_env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    deadline = time.monotonic() + timeout
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def _history(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _traced(stdout: str, what: str) -> list[list[float]]:
    prefix = f"rnnx-test {what} "
    return [[float(v) for v in line[len(prefix):].split()] for line in stdout.splitlines() if line.startswith(prefix)]


@pytest.mark.slow
def test_multiworker_two_local_processes(tmp_path, brown_files):
    workers = _run_workers(tmp_path, _train_args(brown_files, "mw"))
    for index, res in enumerate(workers):
        assert res.returncode == 0, f"worker {index}:\n{res.stderr[-3000:]}"

    run = tmp_path / "saved_models/mw"
    for name in ("model.keras", "vocab.json", "labels.json", "config.json", "metrics.json", "history.csv",
                 "history.json", "training_curve.png"):
        assert (run / name).exists(), name
    assert not (run / "backup").exists() and not (run / "checkpoints").exists()
    assert list((run / "logs/train").iterdir()) and list((run / "logs/validation").iterdir())
    assert not (tmp_path / "saved_models/mw.partial").exists()
    assert json.loads((run / "config.json").read_text())["strategy"] == {"name": "multiworker", "replicas": 2}
    rows = _history(run / "history.csv")
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]  # CSVLogger's columns
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert sorted(p.name for p in (tmp_path / "saved_models").iterdir()) == ["mw"]
    assert list((tmp_path / "tmp1").iterdir()) == []  # the non-chief left nothing behind

    from pipeline.export.exporter import export_run
    from pipeline.check.parity import check_export

    result = export_run(run, out_root=tmp_path / "export")
    assert check_export(result.folder, random_count=2)["passed"]


@pytest.mark.slow
def test_multiworker_resumes_after_a_crash(tmp_path, brown_files):
    args = _train_args(brown_files, "mw")
    crashed = _run_workers(tmp_path, args, traced=True, env={"RNNX_TEST_CRASH_AFTER": "1"})
    assert [r.returncode for r in crashed] == [17, 17], crashed[0].stderr[-3000:] + crashed[1].stderr[-3000:]
    partial = tmp_path / "saved_models/mw.partial"
    first = _history(partial / "history.csv")
    assert len(first) == 1 and (partial / "backup/loop_state.npz").exists()
    shutil.rmtree(tmp_path / "tmp1")  # a crashed worker's temporary folder is not needed to resume

    resumed = _run_workers(tmp_path, args + ["--resume"], traced=True)
    for index, res in enumerate(resumed):
        assert res.returncode == 0, f"worker {index}:\n{res.stderr[-3000:]}"
        assert _traced(res.stdout, "epoch") == [[1.0]]  # only the second epoch ran again
    rows = _history(tmp_path / "saved_models/mw/history.csv")
    assert [r["epoch"] for r in rows] == ["0", "1"] and rows[0] == first[0]
    assert list((tmp_path / "tmp1").iterdir()) == []

    # the workers agree, and every token counts once: each worker scores its slice of each batch
    sums = [_traced(res.stdout, "sums") for res in crashed + resumed]
    assert sums[0] == sums[1] and sums[2] == sums[3]
    train_tokens = sum(len(line.split()) for line in brown_files["train"].read_text().splitlines())
    dev_tokens = sum(len(line.split()) for line in brown_files["dev"].read_text().splitlines())
    assert [s[2] for s in sums[0]] == [train_tokens, dev_tokens]
