"""What a layer's inputs carry for masks, read from the Keras graph (for ``check`` functions).

Keras 3 drops the mask at every layer that does not support masking (``Conv1D``,
the pooling layers, ``Flatten``, ``Reshape``, ``Permute``; it warns "will
therefore destroy the mask information"). Such a layer then reads *every* step,
masked or not, so its output depends on what the tensor holds at masked steps.
Keras recurrent layers with ``return_sequences=True`` fill masked steps with the
output of the last unmasked step (zeros before the first one); the ONNX
``RNN``/``GRU``/``LSTM`` ops write zeros there. A layer that drops the mask of a
recurrent output is therefore refused (:func:`reads_masked_steps_problem`), while
the same layer after an ``Embedding`` (whose masked steps hold the padding id's
vector, exactly what the ``Gather`` gives) converts.

>>> import keras
>>> ids = keras.Input((None,), dtype="int64")
>>> x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
>>> conv = keras.layers.Conv1D(2, 3)
>>> _ = conv(keras.layers.LSTM(3, return_sequences=True, name="lstm")(x))
>>> reads_masked_steps_problem(conv)[:60]
'reads every step of a masked output of lstm (LSTM), but Kera'
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


def recurrent_source(kt, seen: set | None = None):
    """The recurrent layer whose masked steps reach ``kt`` (through mask-keeping layers), or ``None``."""
    seen = set() if seen is None else seen
    if _mask(kt) is None or id(kt) in seen:
        return None
    seen.add(id(kt))
    history = getattr(kt, "_keras_history", None)
    if history is None:
        return None
    op = history.operation
    if _is_recurrent(op):
        return op
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
            return (f"reads every step of a masked output of {source.name} ({type(source).__name__}), but Keras "
                    "fills masked steps of a recurrent output with the last unmasked output while ONNX recurrent "
                    "ops write zeros; put a layer that uses the mask (GlobalAveragePooling1D) or none between them, "
                    "or drop mask_zero")
    return None
