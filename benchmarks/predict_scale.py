"""Corpus-scale prediction: wall time, tokens/s and peak memory of ``rnnx predict --input``.

Inputs: the brown-upos train split's sentences as plain text lines (46,175 lines, 0.93M
tokens), that file 5 times over (4.6M tokens), and its first 2,000 lines (to find where
``--workers`` starts to pay off against ORT's own threads). Every configuration runs the
real CLI in a subprocess:

* ``whole-file``: the pre-streaming way (read the whole file, predict it, render it; the
  code ``rnnx predict`` ran before it streamed), 1 ORT thread: the memory baseline;
* ``1 worker``: ``--threads 1`` (one process, one ORT thread);
* ``threads 2``: ``--threads 2`` (one process, ORT intra-op threads);
* ``2 workers``: ``--workers 2`` (two processes with one ORT thread each);
* ``dask local 2``: ``--cluster local --workers 2`` (a Dask LocalCluster of 2 one-thread
  worker processes started by the command; its start-up is in the wall time).

``cpu_s`` is the CPU time (user + system) of the whole process tree; ``tokens_per_cpu_s``
shows whether a configuration does more work per token, apart from how many cores the
shared machine gave it (``loadavg_1m_before`` is recorded for each run). Peak RSS is sampled every 20 ms over the command's whole process tree: ``peak_rss_mb``
is the largest sum over the tree (what the machine must have), ``peak_proc_mb`` the
largest single process. Every configuration's output is compared with ``1 worker``'s
(sha256). Rounds are interleaved and medians reported.

Run::

    .venv/bin/python benchmarks/predict_scale.py --export export/brown-upos-bilstm
    .venv/bin/python benchmarks/predict_scale.py --quick     # small input, 1 round
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WHOLE_FILE = r"""
import sys
from pipeline.runtime.session import load
from pipeline.data.corpus import Split
from pipeline.data.readers import render
from pipeline.artifacts import write_text
export, src, dst = sys.argv[1:4]
m = load(export, threads=1)
tokens = [m.tokenize(t) for t in open(src, encoding="utf-8").read().split("\n")[:-1]]
write_text(dst, render(Split("tagging", tokens, m.predict_tokens(tokens)), "wordtag"))
"""

CONFIGS = {
    "whole-file": lambda e, i, o: [sys.executable, "-c", WHOLE_FILE, e, i, o],
    "1 worker": lambda e, i, o: [sys.executable, "-m", "pipeline.cli", "predict", e, "--input", i, "--output", o,
                                 "--threads", "1"],
    "threads 2": lambda e, i, o: [sys.executable, "-m", "pipeline.cli", "predict", e, "--input", i, "--output", o,
                                  "--threads", "2"],
    "2 workers": lambda e, i, o: [sys.executable, "-m", "pipeline.cli", "predict", e, "--input", i, "--output", o,
                                  "--workers", "2"],
    "dask local 2": lambda e, i, o: [sys.executable, "-m", "pipeline.cli", "predict", e, "--input", i, "--output", o,
                                     "--cluster", "local", "--workers", "2", "--progress"],
}


def measure(cmd: list[str]) -> dict:
    import psutil

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    load_before = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak_sum = peak_one = 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    pass
            peak_sum, peak_one = max(peak_sum, sum(rss)), max(peak_one, max(rss, default=0))
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])}... failed ({proc.returncode}):\n{err[-2000:]}")
    out = {"wall_s": wall, "cpu_s": cpu, "loadavg_1m_before": load_before,
           "peak_rss_mb": peak_sum / 2**20, "peak_proc_mb": peak_one / 2**20}
    m = re.search(r"tokens in ([\d.]+) s .* cluster start ([\d.]+) s", err)
    if m:  # the Dask run reports its compute time and its cluster's start-up apart
        out["engine_compute_s"], out["cluster_start_s"] = float(m.group(1)), float(m.group(2))
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--export", default="export/brown-upos-bilstm")
    ap.add_argument("--rounds", type=int, default=3, help="rounds for the small and x1 inputs (x5: 1 round)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/predict_scale.json"))
    args = ap.parse_args()

    from pipeline.data.datasets import load_dataset
    from pipeline.runtime.session import load

    model = load(args.export, threads=1)
    work = Path(tempfile.mkdtemp(prefix="predict_scale."))
    lines = [" ".join(t) for t in load_dataset("brown-upos")["train"].tokens]
    inputs = {"2k lines": lines[:2000], "x1": lines, "x5": lines * 5}
    if args.quick:
        inputs = {"2k lines": lines[:2000]}
    plan = {"2k lines": list(CONFIGS), "x1": list(CONFIGS),
            "x5": ["whole-file", "1 worker", "2 workers", "dask local 2"]}
    results = []
    for name, rows in inputs.items():
        src = work / f"{name.replace(' ', '_')}.txt"
        src.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        tokens = sum(len(model.tokenize(r)) for r in rows)
        rounds = 1 if (name == "x5" or args.quick) else args.rounds
        runs: dict[str, list] = {c: [] for c in plan[name]}
        digests = {}
        for r in range(rounds):
            for c in plan[name]:
                out = work / f"out_{name.replace(' ', '_')}_{c.replace(' ', '_')}.txt"
                runs[c].append(measure(CONFIGS[c](args.export, str(src), str(out))))
                digests[c] = sha(out)
                m = runs[c][-1]
                print(f"{name:>8} {c:>13} round {r + 1}: {m['wall_s']:6.2f} s  {tokens / m['wall_s']:9,.0f} tok/s  "
                      f"cpu {m['cpu_s']:6.2f} s  load {m['loadavg_1m_before']:.1f}  "
                      f"peak {m['peak_rss_mb']:6.0f} MB (one process {m['peak_proc_mb']:.0f})", flush=True)
        base = digests["1 worker"]
        for c in plan[name]:
            wall = statistics.median(m["wall_s"] for m in runs[c])
            results.append({
                "input": name, "lines": len(rows), "tokens": tokens, "bytes": src.stat().st_size, "config": c,
                "rounds": len(runs[c]), "wall_s": round(wall, 3), "tokens_per_s": round(tokens / wall, 1),
                "peak_rss_mb": round(statistics.median(m["peak_rss_mb"] for m in runs[c]), 1),
                "peak_proc_mb": round(statistics.median(m["peak_proc_mb"] for m in runs[c]), 1),
                "walls": [round(m["wall_s"], 3) for m in runs[c]],
                "cpu_s": round(statistics.median(m["cpu_s"] for m in runs[c]), 3),
                "tokens_per_cpu_s": round(tokens / statistics.median(m["cpu_s"] for m in runs[c]), 1),
                "loadavg_1m_before": [round(m["loadavg_1m_before"], 2) for m in runs[c]],
                "output_equals_1_worker": digests[c] == base,
                **({"engine_compute_s": round(statistics.median(m["engine_compute_s"] for m in runs[c]), 3),
                    "cluster_start_s": round(statistics.median(m["cluster_start_s"] for m in runs[c]), 3)}
                   if "engine_compute_s" in runs[c][0] else {}),
            })
        src.unlink()
    by = {(r["input"], r["config"]): r for r in results}

    def ratio(a, b, key="tokens_per_s"):
        return round(by[a][key] / by[b][key], 3) if a in by and b in by else None

    summary = {}
    for name in inputs:
        summary[name] = {
            "2_workers_vs_1": ratio((name, "2 workers"), (name, "1 worker")),
            "threads_2_vs_1": ratio((name, "threads 2"), (name, "1 worker")),
            "dask_wall_vs_2_workers": (round(by[(name, "dask local 2")]["wall_s"] / by[(name, "2 workers")]["wall_s"], 3)
                                       if (name, "dask local 2") in by else None),
        }
    report = {
        "benchmark": "predict_scale", "export": args.export,
        "model": {k: model.info["model"].get(k) for k in ("cell", "bidirectional", "units", "embedding_dim",
                                                          "vocab_size", "num_labels")},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_at_end": os.getloadavg()},
        "rows": results, "summary": summary,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
