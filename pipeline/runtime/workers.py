"""``--workers N``: N processes on one machine, each with its own one-thread ONNX Runtime session.

The parent reads the input and cuts it into chunks (:mod:`pipeline.runtime.corpus`); each
worker parses, predicts and renders a chunk and sends back its text; the parent writes the
texts in input order. At most ``2 * N`` chunks are in flight, so memory stays bounded
whatever the input size. The parent never creates an ONNX Runtime session (the workers are
forked before any exists). A worker that dies stops the run with an error that says so;
nothing half-written is left at ``--output`` (it is written to a temporary name first).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable, Iterator

from pipeline.errors import RnnxError
from pipeline.runtime.corpus import Chunk, ChunkResult, predict_chunk

_MODEL = None


def _init(export: str) -> None:
    global _MODEL
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from pipeline.runtime.session import load

    _MODEL = load(export, threads=1)


def _work(chunk: Chunk, column: str, json_items: bool, batch_size: int) -> ChunkResult:
    return predict_chunk(_MODEL, chunk, column=column, json_items=json_items, batch_size=batch_size)


def _context():
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def map_chunks(export, chunks: Iterable[Chunk], *, workers: int, column: str = "upos", json_items: bool = False,
               batch_size: int = 32, in_flight: int | None = None) -> Iterator[tuple[Chunk, ChunkResult]]:
    """``(chunk, result)`` for every chunk, in input order, computed by ``workers`` processes."""
    if workers < 1:
        raise RnnxError(f"--workers must be >= 1, got {workers}")
    limit = in_flight or 2 * workers
    pending: deque = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_init,
                             initargs=(str(export),)) as pool:
        try:
            for chunk in chunks:
                pending.append((chunk, pool.submit(_work, chunk, column, json_items, batch_size)))
                if len(pending) >= limit:
                    c, fut = pending.popleft()
                    yield c, fut.result()
            while pending:
                c, fut = pending.popleft()
                yield c, fut.result()
        except BrokenProcessPool:
            raise RnnxError("a --workers process died (out of memory or killed?) while predicting; nothing was "
                            "written to --output; run again, with fewer --workers if memory is short") from None
        finally:
            for _, fut in pending:
                fut.cancel()
