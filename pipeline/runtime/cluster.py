"""Prediction on a Dask cluster (``pip install 'rnnx[cluster]'``): many machines, one corpus.

Dask (``dask.bag`` + ``distributed``) is the engine: it is plain Python (``pip install``, no
JVM, no object store to size), reads text collections as bags of lines split into byte
blocks (gzip files whole), schedules the partitions, and re-runs the partitions of a worker
that dies. This module adds only what rnnx needs on top:

- :func:`predict_partition` for ``bag.map_partitions``: a partition's lines in, the rendered
  output lines out; the export is loaded once per worker process (:func:`worker_model`) with
  a one-thread ONNX Runtime session. It renders through :func:`pipeline.runtime.corpus.predict_chunk`,
  so its output equals ``rnnx predict``'s line for line;
- :func:`predict_files`: the whole of ``rnnx predict --cluster``: one bag per input file,
  every partition written by a task to its own part file (temporary name, then rename, so a
  task re-run after a worker died replaces its part whole), then the parts concatenated in
  input order into ``--output``. Every line lands exactly once.

Use it from your own Dask code::

    import dask.bag as db
    from pipeline.runtime.cluster import predict_partition
    lines = db.read_text("corpus/*.txt.gz")
    lines.map_partitions(predict_partition, "export/pos").to_textfiles("tagged/*.txt")

This module imports dask only inside functions: importing it (or running ``rnnx predict``
without ``--cluster``) does not need dask.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Sequence

from pipeline.errors import RnnxError
from pipeline.runtime.corpus import BLOCK_FORMATS, chunk_lines, detect_input_format, is_gzip, predict_chunk

_MODELS: dict = {}
INSTALL_HINT = "install the cluster extra: pip install 'rnnx[cluster]' (dask and distributed)"


def require_dask():
    try:
        import dask.bag  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise RnnxError(f"--cluster needs Dask; {INSTALL_HINT}") from None


def worker_model(export: str | os.PathLike):
    """The export loaded once per process (one ONNX Runtime thread; a Dask worker runs one task per thread)."""
    key = str(Path(export).resolve())
    model = _MODELS.get(key)
    if model is None:
        from pipeline.runtime.session import load

        model = _MODELS[key] = load(export, threads=1)
    return model


def _strip(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def predict_partition(lines: Sequence[str], export: str, *, fmt: str = "lines", column: str = "upos",
                      batch_size: int = 32, where: str = "partition") -> list[str]:
    """For ``bag.map_partitions``: the output lines (no line ends) for a partition of input lines.

    ``lines`` may keep their line ends (``dask.bag.read_text`` does). Block formats (``conll``,
    ``conllu``) need partitions that end at a sentence boundary: read such files whole
    (``read_text(..., blocksize=None)``).
    """
    return _render_partition(lines, export, fmt=fmt, column=column, batch_size=batch_size, where=where)[0]


def _render_partition(lines, export, *, fmt, column, batch_size, where) -> tuple[list[str], dict]:
    model = worker_model(export)
    out: list[str] = []
    stats = {"records": 0, "tokens": 0, "replaced_gold": False}
    for chunk in chunk_lines((_strip(x) for x in lines), where, fmt):
        res = predict_chunk(model, chunk, column=column, batch_size=batch_size)
        if res.text:
            out.extend(res.text[:-1].split("\n") if res.text.endswith("\n") else res.text.split("\n"))
        stats["records"] += res.records
        stats["tokens"] += res.tokens
        stats["replaced_gold"] |= res.replaced_gold
    return out, stats


def _write_part(lines, export, path: str, fmt: str, column: str, batch_size: int, where: str,
                fail_marker: str | None = None) -> dict:
    """One task: predict a partition and write it to ``path`` (temporary name, then rename)."""
    out, stats = _render_partition(lines, export, fmt=fmt, column=column, batch_size=batch_size, where=where)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        for i, line in enumerate(out):
            f.write(line + "\n")
            if fail_marker and i == len(out) // 2 and not os.path.exists(fail_marker):
                # test hook: die mid-partition once (the engine must re-run this task on another worker)
                Path(fail_marker).write_text(str(os.getpid()))
                f.flush()
                os._exit(13)
    os.replace(tmp, target)
    return {**stats, "part": target.name}


def default_blocksize(files: Sequence[Path], workers: int) -> int:
    """Bytes per partition: about 8 partitions per worker (so the last ones balance), 256 KiB to 64 MiB."""
    total = sum(os.path.getsize(f) for f in files)
    return int(min(64 << 20, max(256 << 10, total // max(1, 8 * workers))))


def predict_files(client, export, files: Sequence[Path], output: Path | str, *, fmt: str | None = None,
                  column: str = "upos", encoding: str = "utf-8", batch_size: int = 32,
                  blocksize: int | None = None, retries: int = 2, fail_marker: str | None = None) -> dict:
    """Predict ``files`` on the Dask cluster of ``client`` into one ``output`` file, in input order.

    The part files live in ``OUTPUT.parts/`` beside ``output`` until they are joined; on a real
    cluster that folder, the input files and the export must be on storage every worker sees.
    """
    require_dask()
    import dask
    import dask.bag as db

    output = Path(output)
    parts_dir = output.with_name(f".{output.name}.parts")
    if parts_dir.exists():
        shutil.rmtree(parts_dir)
    parts_dir.mkdir(parents=True)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    blocksize = blocksize or default_blocksize(files, workers)
    export = str(Path(export).resolve())
    t0 = time.perf_counter()
    tasks = []
    for path in files:
        f = detect_input_format(path, fmt, encoding)
        whole = f in BLOCK_FORMATS or is_gzip(path)
        enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        bag = db.read_text(str(path), blocksize=None if whole else blocksize, encoding=enc)
        for j, part in enumerate(bag.to_delayed()):
            name = parts_dir / f"part-{len(tasks):06d}"
            tasks.append(dask.delayed(_write_part, pure=False)(
                part, export, str(name), f, column, batch_size, f"{path} (block {j + 1})", fail_marker))
    try:
        results = dask.compute(*tasks, scheduler=client, retries=retries)
        from pipeline.artifacts import atomic_path

        with atomic_path(output) as tmp:
            opener = __import__("gzip").open if is_gzip(output) else open
            with opener(tmp, "wb") as out:
                for i in range(len(tasks)):
                    with open(parts_dir / f"part-{i:06d}", "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    return {"files": len(files), "partitions": len(tasks), "workers": workers, "blocksize": blocksize,
            "seconds": round(time.perf_counter() - t0, 3),
            "records": sum(r["records"] for r in results), "tokens": sum(r["tokens"] for r in results),
            "replaced_gold": any(r["replaced_gold"] for r in results)}


def connect(address: str, *, workers: int = 2):
    """A ``distributed.Client``: to ``address`` (``tcp://host:8786``), or to a new local cluster of
    ``workers`` processes with one thread each when ``address`` is ``local``."""
    require_dask()
    from distributed import Client, LocalCluster

    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":0")
        return Client(cluster)
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise RnnxError(f"--cluster {address}: no Dask scheduler answered ({exc}); start one with `dask scheduler` "
                        f"and workers with `dask worker {address}`") from None
