"""The few lines printed when a run finishes (``rnnx train``, ``rnnx demo``).

>>> m = {"epochs_run": 2, "train_seconds": 9.5, "test": {"accuracy": 0.9512, "macro_f1": 0.9}}
>>> print(format_run_metrics("saved_models/pos", m))
saved saved_models/pos  (2 epochs, 9.5 s)
  test  accuracy 0.9512  macro-F1 0.9000
"""

from __future__ import annotations


def format_run_metrics(folder, metrics: dict) -> str:
    """Where the run was saved, and dev/test accuracy (OOV, macro-F1, entity-F1 where present)."""
    lines = [f"saved {folder}  ({metrics.get('epochs_run', '?')} epochs, {metrics.get('train_seconds', '?')} s)"]
    for split in ("dev", "test"):
        if split in metrics:
            m = metrics[split]
            extra = ""
            if m.get("out_of_vocab", {}).get("tokens"):
                oov = m["out_of_vocab"]
                extra = (f"  in-vocab {m['in_vocab']['accuracy']:.4f}  out-of-vocab {oov['accuracy']:.4f} "
                         f"({oov['tokens']:,} tokens, {oov['share'] * 100:.1f}%)")
            if "macro_f1" in m:
                extra += f"  macro-F1 {m['macro_f1']:.4f}"
            if m.get("entities"):
                extra += f"  entity-F1 {m['entities']['f1']:.4f}"
            lines.append(f"  {split:<5} accuracy {m['accuracy']:.4f}{extra}")
    if "dev" in metrics and "test" not in metrics:
        lines.append(f"  note: {metrics.get('note') or DEV_ONLY_NOTE}")
    return "\n".join(lines)


#: printed (and kept in metrics.json) when a run has no test split
DEV_ONLY_NOTE = ("no test split (trained without --test): the dev score is the only held-out score, and early "
                 "stopping chose the epoch on it, so it is optimistic; give --test FILE for an unbiased score")
