"""Drive a corpus through an export: chunks in, rendered text out, in input order (``rnnx predict --input``).

:func:`predict_stream` reads the chunks of :mod:`pipeline.runtime.corpus`, predicts them in this
process or in ``--workers`` processes (:mod:`pipeline.runtime.workers`), and writes each
chunk's text as soon as every chunk before it is written. :class:`Progress` is the
tokens/s meter shown on a terminal.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pipeline.runtime import corpus
from pipeline.runtime.corpus import Chunk, detect_input_format, iter_chunks, predict_chunk



@dataclass
class Stats:
    files: int = 0
    chunks: int = 0
    records: int = 0
    tokens: int = 0
    seconds: float = 0.0
    replaced_gold: list = field(default_factory=list)  # (file, format) whose gold labels the output replaced

    def as_dict(self) -> dict:
        rate = self.tokens / self.seconds if self.seconds else 0.0
        return {"files": self.files, "chunks": self.chunks, "records": self.records, "tokens": self.tokens,
                "seconds": round(self.seconds, 3), "tokens_per_s": round(rate, 1)}


class Progress:
    """A one-line progress meter with tokens/s on ``stream`` -- only when it is a terminal."""

    def __init__(self, stream=None, enabled: bool | None = None, every: float = 0.5):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.every = every
        self.t0 = self.last = time.perf_counter()
        self.shown = False

    def update(self, stats: Stats, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        rate = stats.tokens / max(now - self.t0, 1e-9)
        self.stream.write(f"\r{stats.records:,} texts  {stats.tokens:,} tokens  {rate:,.0f} tokens/s  "
                          f"({stats.files} file{'s' if stats.files != 1 else ''})")
        self.stream.flush()
        self.shown = True

    def close(self, stats: Stats) -> None:
        if self.enabled:
            self.update(stats, force=True)
            self.stream.write("\n")
            self.stream.flush()


def iter_input_chunks(files: list[Path], *, fmt: str | None, encoding: str, stats: Stats,
                      max_lines: int | None = None) -> Iterator[Chunk]:
    for path in files:
        stats.files += 1
        f = detect_input_format(path, fmt, encoding)
        yield from iter_chunks(path, f, encoding, max_lines=max_lines or corpus.CHUNK_LINES)


class _JsonWriter:
    def __init__(self, out, json_items: bool):
        self.out, self.json, self.n = out, json_items, 0
        if json_items:
            out.write("[\n")

    def write(self, text: str) -> None:
        if not text:
            return
        if self.json and self.n:
            self.out.write(",\n")
        self.out.write(text)
        self.n += 1

    def close(self) -> None:
        if self.json:
            self.out.write("\n]\n" if self.n else "]\n")


def predict_stream(export, files: list[Path], out, *, fmt: str | None = None, column: str = "upos",
                   encoding: str = "utf-8", workers: int = 1, threads: int | None = None, batch_size: int = 32,
                   json_items: bool = False, progress: Progress | None = None) -> Stats:
    """Predict every record of ``files`` into the text stream ``out``, in input order; memory stays bounded.

    ``workers=1`` runs in this process with ``threads`` ONNX Runtime threads; ``workers > 1`` starts that
    many processes, each with its own one-thread session (:mod:`pipeline.runtime.workers`).
    """
    stats = Stats()
    progress = progress or Progress(enabled=False)
    writer = _JsonWriter(out, json_items)
    t0 = time.perf_counter()
    # workers get smaller chunks (a quarter: 1,024 lines), so a few thousand lines already keep them all busy
    max_lines = corpus.CHUNK_LINES if workers == 1 else max(1, corpus.CHUNK_LINES // 4)
    chunks = iter_input_chunks(files, fmt=fmt, encoding=encoding, stats=stats, max_lines=max_lines)
    if workers > 1:
        from pipeline.runtime.workers import map_chunks

        results = map_chunks(export, chunks, workers=workers, column=column, json_items=json_items,
                             batch_size=batch_size)
    else:
        from pipeline.runtime.session import load

        model = load(export, threads=threads)
        results = ((c, predict_chunk(model, c, column=column, json_items=json_items, batch_size=batch_size))
                   for c in chunks)
    try:
        for chunk, res in results:
            writer.write(res.text)
            stats.chunks += 1
            stats.records += res.records
            stats.tokens += res.tokens
            if res.replaced_gold and (chunk.path, chunk.fmt) not in stats.replaced_gold:
                stats.replaced_gold.append((chunk.path, chunk.fmt))
            progress.update(stats)
    finally:
        close = getattr(results, "close", None)
        if close:
            close()
    writer.close()
    stats.seconds = time.perf_counter() - t0
    progress.close(stats)
    return stats
