"""The spellings a character-CNN run saw in training, for the export's character-feature cache.

:mod:`pipeline.export.fused.char_cache` turns them into a table, so the exported
graph looks the character vector of a known spelling up instead of computing it.
Any set of spellings gives the same answers (an unlisted spelling is computed);
the set only decides how often the convolution runs.

Example::

    spellings, note = training_spellings(run, limit=30000)
    # ([(12, 5, 9), (3,), ...], "30000 most frequent training spellings (97.9% of training tokens)")
"""

from __future__ import annotations

from collections import Counter

from pipeline.errors import RnnxError

DEFAULT_CHAR_CACHE = 30000


def training_spellings(run, limit: int) -> tuple[list[tuple[int, ...]], str]:
    """The ``limit`` most frequent training spellings of ``run`` as character ids, and a note saying what they cover.

    Empty when ``limit`` is 0, the model reads no characters, or its training data
    cannot be read again (a streamed corpus, a moved file): the export then runs the
    convolution for every token, as without a cache.
    """
    if limit <= 0 or not run.model_config.chars:
        return [], "off"
    tokens = _training_tokens(run)
    if tokens is None:
        return [], f"off: the training data {run.config.get('data')!r} could not be read again"
    counts = Counter(t for sentence in tokens for t in sentence)
    top = counts.most_common(limit)
    chars = run.encoder.chars
    covered = sum(n for _, n in top) / max(1, sum(counts.values()))
    return ([tuple(chars.encode_word(w)) for w, _ in top],
            f"{len(top)} most frequent training spellings ({100 * covered:.1f}% of training tokens)")


def _training_tokens(run):
    """The training split's token lists (``--limit`` applied), or ``None`` when they cannot be read."""
    from pipeline.data.sources import resolve

    cfg = run.config
    try:
        splits = resolve(cfg["data"], fmt=cfg.get("data_format"), column=cfg.get("column") or "upos",
                         dev=cfg.get("dev"), test=cfg.get("test"))
    except (RnnxError, OSError, KeyError, ValueError):
        return None
    if "train" not in splits:  # a streamed corpus
        return None
    train = splits["train"]
    limit = (cfg.get("options") or {}).get("train_limit")
    return (train.head(limit) if limit else train).tokens
