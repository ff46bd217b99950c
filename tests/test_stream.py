"""Corpora larger than memory: a folder of files is streamed one file at a time."""

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_streamed_folder_trains_exports_and_passes_parity(tmp_path, brown_files):
    from pipeline.export.exporter import export_run
    from pipeline.check.parity import check_export
    from pipeline.models import ModelConfig
    from pipeline.train.fit import RunSpec, TrainOptions, train

    parts = tmp_path / "parts"
    parts.mkdir()
    lines = brown_files["train"].read_text().splitlines(keepends=True)
    for i in range(3):
        (parts / f"part{i}.txt").write_text("".join(lines[i::3]), encoding="utf-8")
    spec = RunSpec(name="streamed", data=str(parts), dev=str(brown_files["dev"]), test=str(brown_files["test"]),
                   model=ModelConfig("tagging", "gru", bidirectional=True, units=12, embedding_dim=12),
                   options=TrainOptions(epochs=2, verbose=0))
    run = train(spec, root=tmp_path / "saved_models")
    config = json.loads((run / "config.json").read_text())
    assert config["sizes"]["train"] == {"sequences": len(lines), "tokens": sum(len(l.split()) for l in lines),
                                        "files": 3, "streamed": True}
    vocab = json.loads((run / "vocab.json").read_text())["words"]
    assert "the" in vocab and "," in vocab
    result = export_run(run, out_root=tmp_path / "export")
    assert check_export(result.folder, random_count=2)["passed"]


def test_streamed_corpus_needs_dev(tmp_path, brown_files):
    from pipeline.models import ModelConfig
    from pipeline.train.fit import RunSpec, train

    for i in range(2):
        shutil.copy(brown_files["dev"], tmp_path / f"p{i}.txt")
    with pytest.raises(ConfigError, match="--dev"):
        train(RunSpec(name="x", data=str(tmp_path / "*.txt"), model=ModelConfig("tagging")), root=tmp_path / "sm")


def _peak_rss_mb(folder: Path, dev: Path, work: Path) -> float:
    """Peak resident memory (MB) of a streamed training run in a fresh process."""
    code = (
        "import resource, sys\n"
        "from pipeline.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
        "sys.exit(code)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, "train", "--data", str(folder), "--dev", str(dev), "--name", folder.name,
         "--cell", "gru", "--units", "16", "--embedding-dim", "16", "--epochs", "1", "--steps-per-epoch", "20",
         "--quiet"],
        cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return float(res.stdout.split("PEAK")[-1].split()[0])


@pytest.mark.slow
def test_memory_does_not_grow_with_corpus_size(tmp_path, brown, brown_files):
    """4 vs 16 copies of the Brown training split (3.7M vs 14.9M tokens): the streamed run's
    peak memory stays flat, while holding the corpus in memory would grow by ~12 files' worth."""
    import tracemalloc

    from pipeline.data.readers import read_file

    one = tmp_path / "brown-train.txt"
    one.write_text("".join(" ".join(f"{w}/{t}" for w, t in zip(toks, tags)) + "\n"
                           for toks, tags in zip(brown["train"].tokens, brown["train"].labels)), encoding="utf-8")
    tracemalloc.start()
    split = read_file(one)
    per_file_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    tokens_per_file = split.num_tokens
    del split

    peaks = {}
    for copies in (4, 16):
        folder = tmp_path / f"corpus{copies}"
        folder.mkdir()
        for i in range(copies):
            os.link(one, folder / f"part{i:02d}.txt")
        peaks[copies] = _peak_rss_mb(folder, brown_files["dev"], tmp_path)
    growth = peaks[16] - peaks[4]
    in_memory_growth = 12 * per_file_mb
    print(f"\nstreamed corpus: {4 * tokens_per_file:,} tokens -> peak {peaks[4]:.0f} MB; "
          f"{16 * tokens_per_file:,} tokens -> peak {peaks[16]:.0f} MB; holding 12 more files in memory "
          f"would take ~{in_memory_growth:.0f} MB more")
    assert growth < 0.25 * in_memory_growth
