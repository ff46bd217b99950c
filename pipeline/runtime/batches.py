"""Run any batch function over variable-length sequences: sort by length, cut
into batches, right-pad, call, and hand back one result per input in input order.

Numpy only, so Keras (evaluation, parity) and ONNX Runtime (serving) share it.

>>> import numpy as np
>>> echo = lambda ids: ids[..., None].astype("float32")        # a fake "tagger"
>>> out = run_batched(echo, [[5, 6, 7], [8], []], task="tagging", batch_size=2)
>>> [o[:, 0].tolist() for o in out]
[[5.0, 6.0, 7.0], [8.0], []]
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from pipeline.data.batching import bucket_batches, pad


def pad_batch(seqs: Sequence[Sequence[int]]) -> np.ndarray:
    """Right-pad id sequences with 0 into int64 ``[batch, time]`` (at least 1 wide)."""
    return pad(seqs, min_width=1)


def run_batched(
    fn: Callable[[np.ndarray], np.ndarray],
    seqs: Sequence[Sequence[int]],
    *,
    task: str,
    batch_size: int = 32,
    collate: Callable = pad_batch,
) -> list[np.ndarray]:
    """Apply ``fn`` (``ids[batch, time] -> probs``) to every sequence.

    Tagging results are cut back to each sequence's length (``[len, labels]``);
    classification results are one ``[labels]`` vector per sequence. ``collate``
    builds ``fn``'s input from a batch of sequences (default: right-padded ids;
    :func:`pipeline.data.features.collate` also handles character inputs).
    """
    results: list[np.ndarray | None] = [None] * len(seqs)
    for idx in bucket_batches([len(s) for s in seqs], batch_size, shuffle=False):
        batch = [seqs[i] for i in idx]
        probs = np.asarray(fn(collate(batch)))
        for row, i in enumerate(idx):
            results[i] = probs[row, : len(seqs[i])] if task == "tagging" else probs[row]
    return results  # type: ignore[return-value]
