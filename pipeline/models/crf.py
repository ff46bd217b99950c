"""A linear-chain CRF output layer for taggers (Ma & Hovy 2016 style).

The model's output stays the label probabilities ``probs`` ``[batch, time, L]`` of
the softmax ``Dense`` layer. A :class:`CRF` layer sits on top of it: its call is the
identity (the mask passes through) and it owns the CRF parameters ``transitions``
``[L, L]`` (score of tag ``i`` followed by tag ``j``), ``start`` ``[L]`` and ``end``
``[L]``. The CRF emissions are ``log(max(probs, EMISSION_FLOOR))``: subtracting a
per-position constant from every tag's emission does not change the CRF
distribution, so log-softmax emissions are as good as logits.

* :class:`CRFTagger` is a functional model whose training loss is the CRF negative
  log-likelihood (:func:`crf_nll`) per real token; compile it without ``loss=``.
* :func:`decode` gives the best tag path with numpy
  (:func:`pipeline.scoring.decode.viterbi` on the model's weights), in the same float32 order as the Viterbi decode the fused ONNX exporter writes into the graph
  (``pipeline/export/fused/crf.py``), so both give identical paths.

Example:

>>> import numpy as np
>>> ids = keras.Input((None,), dtype="int64", name="ids")
>>> x = keras.layers.Embedding(20, 4, mask_zero=True)(ids)
>>> x = keras.layers.GRU(4, return_sequences=True)(x)
>>> probs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
>>> model = CRFTagger(inputs=ids, outputs=CRF(3)(probs), name="tagger")
>>> model.compile("adam", metrics=["accuracy"])
>>> batch = np.array([[5, 6, 7], [8, 0, 0]])
>>> decode(model, model(batch), lengths=[3, 1]).shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from pipeline.keras_env import import_keras
from pipeline.scoring.decode import EMISSION_FLOOR, viterbi

keras = import_keras()

__all__ = ["CRF", "CRFTagger", "crf_nll", "crf_weights", "decode"]

CRF_LAYER_NAME = "crf"


@keras.saving.register_keras_serializable(package="rnnx")
class CRF(keras.layers.Layer):
    """Identity on ``probs`` ``[batch, time, num_labels]``; holds the CRF weights (float32, zeros at start).

    The layer computes in float32 even under a mixed-precision policy (its inputs
    are cast to float32 and its weights are float32).
    """

    def __init__(self, num_labels: int, name: str = CRF_LAYER_NAME, **kwargs):
        kwargs["dtype"] = kwargs.get("dtype") or "float32"
        super().__init__(name=name, **kwargs)
        if int(num_labels) < 2:
            raise ValueError(f"a CRF needs at least 2 labels, got num_labels={num_labels}")
        self.num_labels = int(num_labels)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"layer {self.name} (CRF) takes label probabilities [batch, time, labels]; got shape "
                             f"{tuple(input_shape)} (put the CRF right after the softmax Dense layer of a tagger)")
        if input_shape[-1] is not None and input_shape[-1] != self.num_labels:
            raise ValueError(f"layer {self.name} (CRF) has num_labels={self.num_labels} but its input has "
                             f"{input_shape[-1]} labels; build it as CRF({input_shape[-1]})")
        labels = self.num_labels
        self.transitions = self.add_weight(name="transitions", shape=(labels, labels), initializer="zeros",
                                           dtype="float32")
        self.start = self.add_weight(name="start", shape=(labels,), initializer="zeros", dtype="float32")
        self.end = self.add_weight(name="end", shape=(labels,), initializer="zeros", dtype="float32")
        super().build(input_shape)

    def call(self, probs, mask=None):
        return probs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels}


# -- training loss ------------------------------------------------------------------

def emissions(probs):
    """float32 ``log(max(probs, EMISSION_FLOOR))`` (keras.ops)."""
    ops = keras.ops
    return ops.log(ops.maximum(ops.cast(probs, "float32"), EMISSION_FLOOR))


def crf_nll(probs, tags, mask, transitions, start, end):
    """float32 ``[batch]``: the CRF negative log-likelihood of ``tags`` for each row.

    ``probs`` ``[batch, time, L]``, ``tags`` int ``[batch, time]``, ``mask`` bool
    ``[batch, time]`` (right-padded: a prefix of ``True``). Rows of length 0 give 0.
    Written with ``keras.ops`` only (a ``scan`` over time for the partition
    function), so it traces inside a ``tf.function`` with dynamic batch and time.
    """
    ops = keras.ops
    e = emissions(probs)                                            # [B, T, L]
    tags = ops.cast(tags, "int32")
    mask = ops.cast(mask, "bool")
    trans, start, end = (ops.cast(w, "float32") for w in (transitions, start, end))
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
    nll = _log_partition(e, mask, trans, start, end) - _path_score(e, tags, mask, lengths, trans, start, end)
    return ops.where(lengths > 0, nll, ops.zeros_like(nll))


def _path_score(e, tags, mask, lengths, trans, start, end):
    """float32 ``[batch]``: score of the gold path (emissions, start, transitions, end)."""
    ops = keras.ops
    real = ops.cast(mask, "float32")
    labels = ops.shape(trans)[0]
    steps = ops.arange(ops.shape(tags)[1], dtype="int32")
    first = ops.cast(ops.equal(steps, 0), "float32")[None, :]                        # [1, T]
    last = ops.cast(ops.equal(steps[None, :], (lengths - 1)[:, None]), "float32")     # [B, T]
    emitted = ops.squeeze(ops.take_along_axis(e, tags[:, :, None], axis=2), axis=2)
    pairs = tags[:, :-1] * labels + tags[:, 1:]
    moved = ops.take(ops.reshape(trans, (-1,)), pairs) * real[:, 1:]
    return (ops.sum(emitted * real, axis=1) + ops.sum(ops.take(start, tags) * real * first, axis=1)
            + ops.sum(moved, axis=1) + ops.sum(ops.take(end, tags) * last, axis=1))


def _log_partition(e, mask, trans, start, end):
    """float32 ``[batch]``: log of the sum over all paths of exp(score) (forward algorithm)."""
    ops = keras.ops
    labels = ops.shape(trans)[0]
    real = ops.cast(mask, "float32")[:, :, None]                                        # [B, T, 1]
    first = ops.cast(ops.equal(ops.arange(ops.shape(e)[1], dtype="int32"), 0), "float32")
    first = ops.zeros_like(real) + first[None, :, None]                                 # [B, T, 1]
    # one scanned tensor: Keras's TF scan cannot check several inputs with an unknown time axis
    steps = ops.transpose(ops.concatenate([e, real, first], axis=2), (1, 0, 2))         # [T, B, L + 2]

    def step(alpha, x_t):
        e_t, live_t, first_t = x_t[:, :labels], x_t[:, labels:labels + 1] > 0.5, x_t[:, labels + 1:] > 0.5
        moved = ops.logsumexp(alpha[:, :, None] + trans[None, :, :], axis=1) + e_t
        new = ops.where(first_t, start[None, :] + e_t, moved)
        new = ops.where(live_t, new, alpha)
        return new, new

    alpha0 = ops.zeros_like(ops.sum(e, axis=1))                                         # [B, L], also for time 0
    alpha, _ = ops.scan(step, alpha0, steps)
    return ops.logsumexp(alpha + end[None, :], axis=1)


def _scale_for_replicas(loss):
    """What Keras's own losses do under tf.distribute: divide by the number of replicas."""
    try:
        from keras.src.losses.loss import scale_loss_for_distribution
    except ImportError:  # pragma: no cover - other Keras layouts
        return loss
    return scale_loss_for_distribution(loss)


@keras.saving.register_keras_serializable(package="rnnx")
class CRFTagger(keras.Model):
    """A functional tagger whose output layer is a :class:`CRF` named ``"crf"``.

    Build it like a functional model: ``CRFTagger(inputs=ids, outputs=CRF(L)(probs))``.
    Its training loss is the CRF negative log-likelihood summed over the batch and
    divided by the number of real tokens (``ids != 0``), plus the regularisation
    losses; compile it without ``loss=`` (metrics such as ``"accuracy"`` run on
    ``probs`` with the padding mask, as for a softmax tagger). ``sample_weight``, when
    given, weights whole sequences (shape ``[batch]``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        crf_layer(self)  # fails early, saying what to do

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        if loss is not None:
            raise ValueError("CRFTagger trains with the CRF negative log-likelihood; call compile() without "
                             f"loss= (got loss={loss!r})")
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """What Keras does on ``load_model(compile=True)`` (it skips models whose ``compile`` is overridden)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        ops = keras.ops
        if y is None:
            raise ValueError("CRFTagger needs tag targets to compute its loss: pass (ids, tags) batches")
        ids = _ids_of(x)
        mask = ops.not_equal(ids, 0)
        tags = y
        if len(tags.shape) == 3:
            tags = ops.squeeze(tags, axis=-1)
        layer = crf_layer(self)
        nll = crf_nll(y_pred, tags, mask, layer.transitions, layer.start, layer.end)
        tokens = ops.sum(ops.cast(mask, "float32"), axis=1)
        if sample_weight is not None:
            weight = ops.cast(sample_weight, "float32")
            if len(weight.shape) != 1:
                raise ValueError(f"CRFTagger weights whole sequences: sample_weight must have shape [batch], got "
                                 f"{tuple(weight.shape)}")
            nll, tokens = nll * weight, tokens * weight
        loss = _scale_for_replicas(ops.divide_no_nan(ops.sum(nll), ops.sum(tokens)))
        for extra in self.losses:
            loss = loss + ops.cast(self._aggregate_additional_loss(extra), "float32")
        return loss


def _ids_of(x):
    """The ids tensor of a batch's inputs: the tensor itself or the ``"ids"`` entry of a dict."""
    if isinstance(x, dict):
        if "ids" not in x:
            raise ValueError(f"CRFTagger reads the padding mask from the 'ids' input; the batch has {sorted(x)}")
        return x["ids"]
    if isinstance(x, (list, tuple)):
        return x[0]
    return x


def crf_layer(model) -> CRF:
    """The :class:`CRF` layer named ``"crf"`` of ``model``."""
    try:
        layer = model.get_layer(CRF_LAYER_NAME)
    except ValueError:
        layer = None
    if not isinstance(layer, CRF):
        raise ValueError(f"model {model.name!r} has no CRF layer named {CRF_LAYER_NAME!r}; put "
                         f"CRF(num_labels, name={CRF_LAYER_NAME!r}) on top of the softmax layer")
    return layer


def crf_weights(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(transitions, start, end)`` of the model's CRF layer as float32 numpy arrays."""
    layer = crf_layer(model)
    if not layer.built:
        raise ValueError(f"the CRF layer of model {model.name!r} has no weights yet; call the model on a batch first")
    return tuple(np.asarray(keras.ops.convert_to_numpy(w), np.float32)
                 for w in (layer.transitions, layer.start, layer.end))


# -- decoding -----------------------------------------------------------------------

def decode(model, probs, lengths) -> np.ndarray:
    """:func:`viterbi` with the CRF weights of ``model``."""
    return viterbi(keras.ops.convert_to_numpy(probs), lengths, *crf_weights(model))
