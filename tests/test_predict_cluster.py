"""``rnnx predict --cluster`` on a real Dask cluster started inside the test: 2 worker processes on
loopback, one sharded corpus; the output equals single-process ``predict`` line for line, also
when a worker dies mid-partition (Dask re-runs the task; every line lands exactly once)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pipeline.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", silence_logs=40) as lc, Client(lc) as client:
        yield client


@pytest.fixture(scope="module")
def shards(tmp_path_factory, brown):
    """A corpus in 3 shards (one gzipped, one word/tag with gold tags), about 1,500 sentences."""
    root = tmp_path_factory.mktemp("shards")
    test = brown["test"]
    raw = ["".join(" ".join(t) + "\n" for t in test.tokens[i:i + 600]) for i in (0, 600)]
    (root / "part-0.txt").write_text(raw[0], encoding="utf-8")
    with gzip.open(root / "part-1.txt.gz", "wt", encoding="utf-8") as f:
        f.write(raw[1])
    (root / "part-2.txt").write_text("".join(" ".join(f"{w}/{t}" for w, t in zip(ws, ts)) + "\n"
                                             for ws, ts in zip(test.tokens[1200:1500], test.labels[1200:1500])),
                                     encoding="utf-8")
    return root


def single_process(export, shards, tmp_path) -> str:
    out = tmp_path / "single.txt"
    assert main(["predict", str(export), "--input", str(shards), "--output", str(out), "--threads", "1"]) == 0
    return out.read_text(encoding="utf-8")


def test_cluster_output_equals_single_process_line_for_line(trained_export, cluster, shards, tmp_path):
    from pipeline.data.stream import corpus_files
    from pipeline.runtime.cluster import predict_files

    export = trained_export("tagger")
    expected = single_process(export, shards, tmp_path)
    out = tmp_path / "cluster.txt"
    stats = predict_files(cluster, export, corpus_files(str(shards)), out, blocksize=20_000)
    assert stats["workers"] == 2 and stats["partitions"] >= 4  # byte blocks of the plain shards
    got = out.read_text(encoding="utf-8")
    assert got.split("\n") == expected.split("\n")
    assert not list(tmp_path.glob(".cluster.txt.parts*"))


def test_map_partitions_helper_loads_the_export_once_per_worker(trained_export, cluster, shards):
    import dask.bag as db

    from pipeline.runtime.cluster import predict_partition

    export = str(trained_export("tagger"))
    bag = db.read_text(str(shards / "part-0.txt"), blocksize=20_000)
    lines = bag.map_partitions(predict_partition, export).compute(scheduler=cluster)
    assert len(lines) == 600 and all("/" in ln for ln in lines)
    loaded = cluster.run(lambda: sorted(__import__("pipeline.runtime.cluster", fromlist=["_MODELS"])._MODELS))
    assert all(len(v) <= 1 for v in loaded.values())


def test_a_worker_that_dies_mid_partition_is_retried_and_every_line_lands_once(trained_export, cluster, shards,
                                                                               tmp_path):
    from pipeline.data.stream import corpus_files
    from pipeline.runtime.cluster import predict_files

    export = trained_export("tagger")
    expected = single_process(export, shards, tmp_path)
    marker = tmp_path / "died-once"
    out = tmp_path / "retried.txt.gz"
    predict_files(cluster, export, corpus_files(str(shards)), out, blocksize=20_000, fail_marker=str(marker))
    assert marker.exists()  # a worker process did exit with os._exit mid-partition
    assert gzip.open(out, "rt", encoding="utf-8").read().split("\n") == expected.split("\n")
    cluster.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_cli_cluster_local(trained_export, shards, tmp_path, capsys):
    export = trained_export("tagger")
    expected = single_process(export, shards, tmp_path)
    out = tmp_path / "cli.txt"
    assert main(["predict", str(export), "--input", f"{shards}/part-*", "--output", str(out), "--cluster", "local",
                 "--workers", "2"]) == 0
    assert out.read_text(encoding="utf-8") == expected
    assert "gold" in capsys.readouterr().err  # part-2 had word/TAG gold tags, replaced
    assert main(["predict", str(export), "--input", str(shards), "--cluster", "local"]) == 2
    assert "--output" in capsys.readouterr().err


def test_rnnx_predict_runs_without_dask(trained_export, tmp_path):
    import os
    import subprocess
    import sys

    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('dask', 'distributed'):\n"
            "            raise ImportError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from pipeline.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    src = tmp_path / "t.txt"
    src.write_text("They are early birds .\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    base = [sys.executable, "-c", code, "predict", str(trained_export("tagger")), "--input", str(src)]
    ok = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("They/"), ok.stderr
    no = subprocess.run(base + ["--cluster", "local", "--output", str(tmp_path / "o.txt")], env=env,
                        capture_output=True, text=True, timeout=120)
    assert no.returncode == 2 and "rnnx[cluster]" in no.stderr and "Traceback" not in no.stderr
