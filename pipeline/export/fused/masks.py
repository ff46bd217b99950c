"""What a layer's inputs carry for masks, read from the Keras graph (for ``check`` functions).

Keras 3 drops the mask at every layer that does not support masking (``Conv1D``,
the pooling layers, ``Flatten``, ``Reshape``, ``Permute``; it warns "will
therefore destroy the mask information"). Such a layer then reads *every* step,
masked or not, so its output depends on what the tensor holds at masked steps:

* ``Embedding``: the padding id's vector, exactly what the ``Gather`` gives;
  ``Masking``: zeros, as its converter writes;
* a forward recurrent layer with ``return_sequences=True`` (``zero_output_for_mask``
  off, the Keras default): the output of the last real step. The fused exporter
  writes those values with ``masks="exact"`` (``to_onnx``) but zeros with
  ``masks="right"`` (the rnnx contract, ``convert``'s default), so such a layer is
  refused there: :func:`reads_masked_steps_problem` is registered as the
  ``right_masks_check`` of every mask-dropping converter;
* ``go_backwards`` layers (masked steps come first in their reading order: zeros)
  and ``Bidirectional`` sequences (``zero_output_for_mask=True``): zeros, in both modes.

>>> import keras
>>> ids = keras.Input((None,), dtype="int64")
>>> x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
>>> conv = keras.layers.Conv1D(2, 3)
>>> _ = conv(keras.layers.LSTM(3, return_sequences=True, name="lstm")(x))
>>> reads_masked_steps_problem(conv)[:60]
'reads every step of a masked output of lstm (LSTM), whose ma'
>>> pool = keras.layers.GlobalMaxPooling1D()
>>> _ = pool(keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True))(x))
>>> reads_masked_steps_problem(pool) is None
True
>>> conv2 = keras.layers.Conv1D(2, 3)
>>> _ = conv2(x)
>>> reads_masked_steps_problem(conv2) is None
True
"""

from __future__ import annotations


def _mask(kt):
    return getattr(kt, "_keras_mask", None)


def input_tensors(layer) -> list:
    """Every Keras tensor ``layer`` was called with, over all its calls (a shared layer has several)."""
    return [t for node in getattr(layer, "_inbound_nodes", []) for t in node.input_tensors]


def has_input_mask(layer) -> bool:
    """Whether any call of ``layer`` received a tensor carrying a Keras mask."""
    return any(_mask(t) is not None for t in input_tensors(layer))


def _is_recurrent(op) -> bool:
    import keras

    return isinstance(op, (keras.layers.RNN, keras.layers.Bidirectional))


def carries_at_masked_steps(op) -> bool:
    """Whether recurrent layer ``op`` returns the last real output at masked steps (not zeros)."""
    import keras

    if isinstance(op, keras.layers.Bidirectional):
        return any(carries_at_masked_steps(half) for half in (op.forward_layer, op.backward_layer))
    return (bool(getattr(op, "return_sequences", False)) and not getattr(op, "zero_output_for_mask", False)
            and not getattr(op, "go_backwards", False))


def recurrent_source(kt, seen: set | None = None):
    """The recurrent layer whose carried masked-step values reach ``kt`` (through mask-keeping layers), or ``None``."""
    seen = set() if seen is None else seen
    if _mask(kt) is None or id(kt) in seen:
        return None
    seen.add(id(kt))
    history = getattr(kt, "_keras_history", None)
    if history is None:
        return None
    op = history.operation
    if _is_recurrent(op):  # its masked steps are its own: carried, or zeros
        return op if carries_at_masked_steps(op) else None
    node = op._inbound_nodes[history.node_index]
    for parent in node.input_tensors:
        found = recurrent_source(parent, seen)
        if found is not None:
            return found
    return None


def reads_masked_steps_problem(layer) -> str | None:
    """A reason ``layer`` (which ignores masks and reads every step) cannot be exact, or ``None``."""
    for t in input_tensors(layer):
        source = recurrent_source(t)
        if source is not None:
            return (f"reads every step of a masked output of {source.name} ({type(source).__name__}), whose "
                    "masked steps Keras fills with the last real output; masks='right' writes zeros there: "
                    "export with masks='exact' (to_onnx does), or use a layer that reads the mask "
                    "(GlobalAveragePooling1D) or Bidirectional")
    return None
