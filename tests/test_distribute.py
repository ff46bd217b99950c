"""tf.distribute: MirroredStrategy over two logical CPU devices trains a model that
exports and passes parity; multi-worker requests get a clear answer."""

import json
import os
import subprocess
import sys
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
    from pipeline.export.parity import check_export

    result = export_run(tmp_path / "saved_models/mirrored", out_root=tmp_path / "export")
    assert check_export(result.folder, random_count=2)["passed"]


@pytest.mark.parametrize("tf_config,needle", [
    (None, "needs TF_CONFIG"),
    ("{not json", "not valid JSON"),
    ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}',
     "keras-team/keras#20585"),
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
