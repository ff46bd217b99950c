"""Input batches for any Keras model, shaped the way its layers read them.

Parity for a model a user brings needs inputs it could really see. Each model
input is looked at through the first layer that reads it:

* ``Embedding``: ids in ``[1, input_dim)``; with ``mask_zero=True`` padding is id 0;
* ``Masking``: normal floats; padded steps are rows equal to ``mask_value``;
* anything else: normal floats, or integers in ``[0, 2)`` for integer inputs.

Masked inputs get every padding a user's data has (:data:`PADDINGS`): right
(``padding="post"``), left (``keras.utils.pad_sequences``'s default), holes in the
middle, and rows with no real step at all. Inputs that share the time axis get
the same lengths and padding. Fixed dimensions are kept; unknown ones are drawn.

>>> import keras
>>> frames = keras.Input((None, 3), name="frames")
>>> model = keras.Model(frames, keras.layers.LSTM(2)(keras.layers.Masking(mask_value=-1.0)(frames)))
>>> batch = make_batch(model, batch=4, time=6, padding="left", seed=0)
>>> batch["frames"].shape, bool((batch["frames"][:, 0] == -1.0).all(axis=-1).any())
((4, 6, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PADDINGS = ("none", "right", "left", "holes", "empty")


@dataclass(frozen=True)
class InputKind:
    """How one model input is read: its name, shape, dtype and what the first reader expects."""

    name: str
    shape: tuple
    dtype: str
    vocab: int | None = None          # ids below this (Embedding input_dim)
    pad_id: int | None = None         # the id that masks a step (0 for mask_zero)
    mask_value: float | None = None   # the feature value that masks a step (Masking)

    @property
    def masked(self) -> bool:
        return self.pad_id is not None or self.mask_value is not None


def _readers(model, kt) -> list:
    """The layers that read ``kt`` (the tensor itself), in graph order."""
    out = []
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            if any(t is kt for t in node.input_tensors):
                out.append(layer)
    return out


def input_kinds(model) -> list[InputKind]:
    """One :class:`InputKind` per entry of ``model.inputs``."""
    import keras

    from pipeline.export.fused import keras_input_names
    from pipeline.export.fused.walk import functional_of

    functional = functional_of(model)
    kinds = []
    for name, kt in zip(keras_input_names(functional), functional.inputs):
        dtype = str(getattr(kt.dtype, "name", kt.dtype))
        vocab = pad_id = mask_value = None
        for layer in _readers(functional, kt):
            if isinstance(layer, keras.layers.Embedding):
                vocab, pad_id = int(layer.input_dim), (0 if layer.mask_zero else None)
                break
            if isinstance(layer, keras.layers.Masking):
                mask_value = float(layer.mask_value)
                break
        kinds.append(InputKind(name, tuple(kt.shape), dtype, vocab, pad_id, mask_value))
    return kinds


def step_mask(rng, batch: int, time: int, padding: str) -> np.ndarray:
    """bool ``[batch, time]``: which steps are real under ``padding`` (one of :data:`PADDINGS`).

    >>> step_mask(np.random.default_rng(0), 3, 4, "left").tolist()[0][-1], step_mask(None, 2, 3, "empty").any()
    (True, np.False_)
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding {padding!r}; choose one of {', '.join(PADDINGS)}")
    if padding == "none":
        return np.ones((batch, time), bool)
    if padding == "empty":
        return np.zeros((batch, time), bool)
    lengths = rng.integers(1, time + 1, size=batch)
    lengths[0] = time  # one full row
    if batch > 2:
        lengths[-1] = 0  # one empty row
    steps = np.arange(time)[None, :]
    if padding == "right":
        return steps < lengths[:, None]
    if padding == "left":
        return steps >= (time - lengths)[:, None]
    keep = rng.random((batch, time)) < 0.6  # holes anywhere
    keep[0] = True
    if batch > 2:
        keep[-1] = False
    return keep


def _draw(rng, kind: InputKind, shape: tuple, real: np.ndarray | None) -> np.ndarray:
    is_int = kind.dtype.startswith("int") or kind.dtype.startswith("uint")
    if kind.vocab is not None:
        low = 1 if kind.pad_id == 0 else 0
        x = rng.integers(low, max(kind.vocab, low + 1), size=shape)
    elif is_int:
        x = rng.integers(0, 2, size=shape)
    elif kind.dtype == "bool":
        x = rng.random(shape) < 0.5
    else:
        x = rng.normal(size=shape)
        if kind.mask_value is not None:  # a real step must not equal the mask value by chance
            x[np.isclose(x, kind.mask_value)] += 0.5
    if real is not None and kind.masked and len(shape) >= 2:
        pad = kind.pad_id if kind.pad_id is not None else kind.mask_value
        x[~real] = pad
    return x.astype(np.dtype(kind.dtype if kind.dtype != "bfloat16" else "float32"))


def make_batch(model, *, batch: int, time: int, padding: str = "right", seed: int = 0,
               extra_dim: int = 5) -> dict[str, np.ndarray]:
    """Inputs of ``model`` by name: ``batch`` rows, ``time`` steps where the time axis is free.

    Fixed dimensions of the model's inputs win over ``batch``/``time``; other free
    axes get ``extra_dim``. Masked inputs are padded as ``padding`` says, all with
    the same steps.
    """
    rng = np.random.default_rng(seed)
    kinds = input_kinds(model)
    masks: dict[tuple[int, int], np.ndarray] = {}
    out = {}
    for kind in kinds:
        dims = [d for d in kind.shape]
        b = dims[0] if dims and dims[0] is not None else batch
        shape = [b] + [(time if i == 1 else extra_dim) if d is None else int(d) for i, d in enumerate(dims[1:], 1)]
        real = None
        if kind.masked and len(shape) >= 2:
            key = (shape[0], shape[1])
            if key not in masks:
                masks[key] = step_mask(rng, key[0], key[1], padding)
            real = masks[key]
        out[kind.name] = _draw(rng, kind, tuple(shape), real)
    return out


def standard_batches(model, *, seed: int = 0) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``(description, inputs)`` pairs covering batch 1, small and larger batches, and every padding.

    Unmasked models get full rows of several lengths instead of paddings.
    """
    masked = any(k.masked for k in input_kinds(model))
    paddings = PADDINGS[1:] if masked else ("none",)
    batches = []
    for i, (batch, time) in enumerate([(1, 7), (4, 9), (16, 23), (3, 1)]):
        for j, padding in enumerate(paddings):
            if padding == "empty" and batch == 1 and i:
                continue
            desc = f"batch {batch} x {time} steps, {padding} padding" if masked else f"batch {batch} x {time} steps"
            batches.append((desc, make_batch(model, batch=batch, time=time, padding=padding, seed=seed + 10 * i + j)))
    return batches
