"""Keras recurrent models re-created from public test suites and examples (issue 12).

A registry, not a test module: ``tests/test_any_keras_model.py`` runs the parity test
over :data:`CASES` and ``benchmarks/any_keras_model.py`` times them. Each :class:`Case`
re-creates one model from a public source, shrunk for speed (units <= 16, vocab <= 100,
time <= 20) but with the original structure: layer types and settings, masks, initial
and returned states, several inputs and outputs. ``build(big=True)`` gives the sizes of
the original (units 64-128, time 50 where the original reads dynamic lengths) for the
benchmark.

``case.inputs(rng, batch, time, padding)`` returns numpy arrays in ``model.inputs``
order, with each input's dtype and shape (a fixed batch or time in the model wins over
the arguments). ``padding`` places the padded (masked) steps:

* ``"none"``: every row has ``time`` steps;
* ``"right"``: row 0 full, the others shorter, padded at the end;
* ``"left"``: the same lengths padded at the start (``keras.utils.pad_sequences`` default);
* ``"mixed"``: rows cycle through full, right-padded, left-padded, holed (steps masked in
  the middle) and empty (length 0).

Padded steps of token ids are 0; of float inputs they hold the model's Masking value
(``mask_value``, 0 unless the source sets it).

Weights: Keras's initializers, then every all-zero weight (biases, BatchNorm betas and
means) and BatchNorm variance gets random values, and embedding tables are drawn from
N(0, 1), so outputs are O(1) and a 1e-5 tolerance means something. tensorflow-onnx's
masking tests feed values in 100..999, which saturate every gate (outputs 0 or +-1);
those cases use -2..2 instead.

Sources are cited as ``repo path::test_or_function`` (tensorflow-onnx = onnx/tensorflow-onnx,
keras-io = keras-team/keras-io, tensorflow-docs = tensorflow/docs). Nothing here is copied:
each builder is written from the model the source describes.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

PADDINGS = ("none", "right", "left", "mixed")

TL = "tensorflow-onnx tests/keras2onnx_unit_tests/test_layers.py"
TLSTM = "tensorflow-onnx tests/test_lstm.py"
TGRU = "tensorflow-onnx tests/test_gru.py"
KIO = "keras-io"
RNN_GUIDE = "keras-io guides/working_with_rnns.py"
MASK_GUIDE = "keras-io guides/understanding_masking_and_padding.py"
TEXT_RNN = "tensorflow-docs site/en/tutorials/text/text_classification_rnn.ipynb"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Kind:
    """How to fill one model input: ``float`` (uniform ``lo..hi``), ``ids`` (1..vocab-1,
    padding 0), ``onehot`` (one-hot rows over the last axis) or ``state`` ([batch, units] floats)."""

    kind: str = "float"
    vocab: int = 0
    lo: float = 0.0
    hi: float = 1.0
    mask_value: float = 0.0


FLOAT = Kind("float")
STATE = Kind("state")
ONEHOT = Kind("onehot")


def ids(vocab: int) -> Kind:
    return Kind("ids", vocab=vocab)


def step_mask(rng, batch: int, time: int, padding: str) -> np.ndarray:
    """``[batch, time]`` booleans, True where a step is real (see the module docstring)."""
    if padding not in PADDINGS:
        raise ValueError(f"padding {padding!r}: expected one of {PADDINGS}")
    mask = np.ones((batch, time), bool)
    if padding == "none":
        return mask
    kinds = ("full", "right", "left", "holes", "empty")
    for r in range(batch):
        kind = kinds[r % len(kinds)] if padding == "mixed" else ("full" if r == 0 else padding)
        n = int(rng.integers(1, time + 1)) if time > 1 else 1
        if kind == "right":
            mask[r, n:] = False
        elif kind == "left":
            mask[r, :time - n] = False
        elif kind == "holes" and time >= 3:
            holes = rng.choice(np.arange(1, time - 1), size=max(1, (time - 2) // 2), replace=False)
            mask[r, holes] = False
        elif kind == "empty":
            mask[r, :] = False
    return mask


def make_inputs(model, kinds, rng, batch: int, time: int, padding: str = "right") -> list:
    """Arrays for ``model.inputs`` following ``kinds`` (one :class:`Kind` per input)."""
    if len(kinds) != len(model.inputs):
        raise ValueError(f"{len(kinds)} kinds for {len(model.inputs)} model inputs")
    out = []
    for kt, k in zip(model.inputs, kinds):
        shape = list(kt.shape)
        b = shape[0] if shape[0] is not None else batch
        dims = [b] + [d if d is not None else time for d in shape[1:]]
        dtype = np.dtype(str(getattr(kt.dtype, "name", kt.dtype)))
        if k.kind == "state":
            x = rng.uniform(k.lo, k.hi, size=dims)
        elif k.kind == "ids":
            x = rng.integers(1, k.vocab, size=dims)
            if len(dims) >= 2:
                x = x * step_mask(rng, dims[0], dims[1], padding).reshape(dims[:2] + [1] * (len(dims) - 2))
        elif k.kind == "onehot":
            x = np.eye(dims[-1])[rng.integers(0, dims[-1], size=dims[:-1])]
            if len(dims) >= 3:
                x = x * step_mask(rng, dims[0], dims[1], padding)[..., None]
        else:
            x = rng.uniform(k.lo, k.hi, size=dims)
            if len(dims) >= 3:
                m = step_mask(rng, dims[0], dims[1], padding).reshape(dims[:2] + [1] * (len(dims) - 2))
                x = np.where(m, x, k.mask_value)
        out.append(np.asarray(x).astype(dtype))
    return out


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One re-created model.

    ``build(big=False)`` returns a built Keras model with seeded random weights;
    ``kinds`` says how to fill each input; ``paddings`` are the padding kinds worth
    testing (masked models get ``mixed``); ``what`` says what the case exercises.
    """

    id: str
    source: str
    build_fn: Callable
    kinds: tuple
    what: str
    paddings: tuple = ("none", "left")
    _models: dict = field(default_factory=dict, repr=False)

    def build(self, big: bool = False):
        import keras

        keras.utils.set_random_seed(zlib.crc32(self.id.encode()) % (2 ** 31))
        model = self.build_fn(big)
        if not getattr(model, "_rnnx_keep_weights", False):
            _randomize_zero_weights(model, np.random.default_rng(zlib.crc32(self.id.encode())))
        return model

    def model(self, big: bool = False):
        """The built model, cached (one per size)."""
        if big not in self._models:
            self._models[big] = self.build(big)
        return self._models[big]

    def inputs(self, rng, batch: int, time: int, padding: str = "right", model=None) -> list:
        return make_inputs(model if model is not None else self.model(), self.kinds, rng, batch, time, padding)


def _randomize_zero_weights(model, rng):
    """Biases, BatchNorm betas and moving statistics start at 0 / 1: give them random values
    so a converter that drops a bias or a statistic is caught. RNN states are left alone."""
    for layer in _all_layers(model):
        if getattr(layer, "stateful", False):
            continue
        ws = layer.get_weights()
        if not ws:
            continue
        names = [v.path if hasattr(v, "path") else v.name for v in layer.weights]
        new = []
        for w, name in zip(ws, names):
            if "embeddings" in name:
                w = rng.standard_normal(w.shape).astype(w.dtype)
            elif "moving_variance" in name:
                w = rng.uniform(0.5, 1.5, size=w.shape).astype(w.dtype)
            elif w.size and not np.any(w):
                w = rng.uniform(-0.5, 0.5, size=w.shape).astype(w.dtype)
            new.append(w)
        layer.set_weights(new)


def _all_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers and layer is not model:
            yield from _all_layers(layer)
        else:
            yield layer


CASES: list[Case] = []


def case(id_, source, kinds, what, paddings=("none", "left")):
    def deco(fn):
        CASES.append(Case(id_, source, fn, tuple(kinds), what, tuple(paddings)))
        return fn
    return deco


MASKED = ("right", "mixed")


def _L():
    from keras import layers

    return layers


def _keras():
    import keras

    return keras


def sz(big, small, large):
    return large if big else small


RNNS = {"SimpleRNN": "SimpleRNN", "GRU": "GRU", "LSTM": "LSTM"}


def rnn_class(name):
    return getattr(_L(), name)


# ---- tensorflow-onnx tests/keras2onnx_unit_tests/test_layers.py -----------------------------------


@case("tf2onnx-test_layers-test_simpleRNN", f"{TL}::test_simpleRNN (first model)", [FLOAT],
      "SimpleRNN return_sequences, fixed time 3, 1 feature")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((3, 1))
    return K.Model(x, L.SimpleRNN(2, return_sequences=True)(x))


@case("tf2onnx-test_layers-test_simpleRNN-initial_state", f"{TL}::test_simpleRNN (second model)", [FLOAT, STATE],
      "SimpleRNN relu with initial_state from a model input, Dense sigmoid")
def _(big):
    L, K = _L(), _keras()
    x, s = L.Input((1, 2)), L.Input((5,))
    h = L.SimpleRNN(5, activation="relu", return_sequences=True)(x, initial_state=[s])
    return K.Model([x, s], L.Dense(2, activation="sigmoid")(h))


@case("tf2onnx-test_layers-test_simpleRNN-initial_state_return_state", f"{TL}::test_simpleRNN (third model)",
      [FLOAT, STATE], "SimpleRNN relu, initial_state in, return_state out, two model outputs")
def _(big):
    L, K = _L(), _keras()
    x, s = L.Input((1, 2)), L.Input((10,))
    h, state = L.SimpleRNN(10, activation="relu", return_sequences=True, return_state=True)(x, initial_state=[s])
    return K.Model([x, s], [L.Dense(2)(h), state])


@case("tf2onnx-test_layers-test_GRU", f"{TL}::test_GRU (no initial state)", [FLOAT], "GRU last output, time 3")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((3, 1))
    return K.Model(x, L.GRU(2)(x))


for _rs in (True, False):
    @case(f"tf2onnx-test_layers-test_GRU-initial_state-{'sequences' if _rs else 'last'}",
          f"{TL}::test_GRU (with initial state, return_sequences={_rs})", [FLOAT, STATE],
          f"GRU initial_state from a model input, return_sequences={_rs}")
    def _(big, _rs=_rs):
        L, K = _L(), _keras()
        x, s = L.Input((3, 1)), L.Input((2,))
        return K.Model([x, s], L.GRU(2, return_sequences=_rs)(x, initial_state=s))


@case("tf2onnx-test_layers-test_GRU_2", f"{TL}::test_GRU_2", [FLOAT],
      "Sequential GRU reset_after=True on one step of many features, Dense sigmoid")
def _(big):
    L, K = _L(), _keras()
    feats = sz(big, 32, 257)
    return K.Sequential([L.Input((1, feats)), L.GRU(sz(big, 16, 400), reset_after=True),
                         L.Dense(feats, activation="sigmoid")])


for _rs, _bias in ((False, True), (True, False)):
    @case(f"tf2onnx-test_layers-test_LSTM-{'sequences' if _rs else 'last'}-{'bias' if _bias else 'no_bias'}",
          f"{TL}::test_LSTM (return_sequences={_rs}, use_bias={_bias})", [FLOAT],
          f"LSTM and RNN(LSTMCell) side by side, return_state, use_bias={_bias}, six outputs")
    def _(big, _rs=_rs, _bias=_bias):
        L, K = _L(), _keras()
        x = L.Input((3, 5))
        a = L.LSTM(2, return_state=True, return_sequences=_rs, use_bias=_bias)(x)
        b = L.RNN(L.LSTMCell(2, use_bias=_bias), return_state=True, return_sequences=_rs)(x)
        return K.Model(x, [*a, *b])


for _rs, _bias in ((True, True), (False, False)):
    @case(f"tf2onnx-test_layers-test_LSTM_rev-{'sequences' if _rs else 'last'}-{'bias' if _bias else 'no_bias'}",
          f"{TL}::test_LSTM_rev (return_sequences={_rs}, use_bias={_bias})", [FLOAT],
          "LSTM go_backwards=True with return_state")
    def _(big, _rs=_rs, _bias=_bias):
        L, K = _L(), _keras()
        x = L.Input((3, 5))
        out = L.LSTM(2, return_state=True, go_backwards=True, return_sequences=_rs, use_bias=_bias)(x)
        return K.Model(x, list(out))


@case("tf2onnx-test_layers-test_LSTM_with_bias", f"{TL}::test_LSTM_with_bias", [FLOAT],
      "LSTM and RNN(LSTMCell) with hand-set integer weights, one unit, one step")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((1, 1))
    a = L.LSTM(1, return_state=True, return_sequences=True)(x)
    b = L.RNN(L.LSTMCell(1), return_state=True, return_sequences=True)(x)
    model = K.Model(x, [*a, *b])
    w = [np.array([[1, 2, 3, 4]]), np.array([[5, 6, 7, 8]]), np.array([1, 2, 3, 4])]
    model.set_weights([np.asarray(v, np.float32) for v in w + w])
    model._rnnx_keep_weights = True
    return model


@case("tf2onnx-test_layers-test_LSTM_reshape", f"{TL}::test_LSTM_reshape", [FLOAT],
      "LSTM and RNN(LSTMCell) sequences, each through Reshape((3, 5))")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((3, 7))
    a = L.Reshape((3, 5))(L.LSTM(5, return_sequences=True)(x))
    b = L.Reshape((3, 5))(L.RNN(L.LSTMCell(5), return_sequences=True)(x))
    return K.Model(x, [a, b])


@case("tf2onnx-test_layers-test_LSTM_with_initializer", f"{TL}::test_LSTM_with_initializer", [FLOAT, STATE, STATE],
      "LSTM relu and RNN(LSTMCell relu) with initial [h, c] from named model inputs, Dense sigmoid")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((1, 2), name="inputs")
    h, c = L.Input((5,), name="state_h"), L.Input((5,), name="state_c")
    a = L.LSTM(5, activation="relu", return_sequences=True)(x, initial_state=[h, c])
    b = L.RNN(L.LSTMCell(5, activation="relu"), return_sequences=True)(x, initial_state=[h, c])
    return K.Model([x, h, c], [L.Dense(2, activation="sigmoid")(a), L.Dense(2, activation="sigmoid")(b)])


@case("tf2onnx-test_layers-test_LSTM_seqlen_none-stateful", f"{TL}::test_LSTM_seqlen_none", [FLOAT],
      "stateful LSTM and RNN(LSTMCell) with batch_shape (1, None, 1): state carried across calls (refused)")
def _(big):
    L, K = _L(), _keras()
    x = L.Input(batch_shape=(1, None, 1))
    return K.Model(x, [L.LSTM(2, stateful=True)(x), L.RNN(L.LSTMCell(2), stateful=True)(x)])


for _cls, _rs in (("LSTM", True), ("GRU", True), ("SimpleRNN", False)):
    @case(f"tf2onnx-test_layers-test_bidirectional-{_cls}-{'sequences' if _rs else 'last'}",
          f"{TL}::test_bidirectional (Sequential, {_cls}, return_sequences={_rs})", [FLOAT],
          "Sequential Bidirectional, Dense, Activation softmax")
    def _(big, _cls=_cls, _rs=_rs):
        L, K = _L(), _keras()
        return K.Sequential([L.Input((5, 10)), L.Bidirectional(rnn_class(_cls)(7, return_sequences=_rs)),
                             L.Dense(5), L.Activation("softmax")])


for _cls, _rs in (("GRU", True), ("LSTM", False)):
    @case(f"tf2onnx-test_layers-test_bidirectional-{_cls}-merge_mode_None",
          f"{TL}::test_bidirectional (functional, merge_mode=None, {_cls}, return_sequences={_rs})", [FLOAT],
          "Bidirectional merge_mode=None: forward and backward as two model outputs")
    def _(big, _cls=_cls, _rs=_rs):
        L, K = _L(), _keras()
        x = L.Input((5, 10))
        return K.Model(x, L.Bidirectional(rnn_class(_cls)(7, return_sequences=_rs), merge_mode=None)(x))


@case("tf2onnx-test_layers-test_bidirectional_with_bias", f"{TL}::test_bidirectional_with_bias", [Kind(lo=100, hi=999)],
      "Sequential Bidirectional LSTM, large inputs, random bias (same in both directions)")
def _(big):
    L, K = _L(), _keras()
    model = K.Sequential([L.Input((3, 5)), L.Bidirectional(L.LSTM(4), name="bi")])
    w = model.get_layer("bi").get_weights()
    w[2] = np.random.default_rng(1).uniform(size=w[2].shape).astype(np.float32)
    w[5] = w[2]
    model.get_layer("bi").set_weights(w)
    model._rnnx_keep_weights = True
    return model


for _cls in ("LSTM", "GRU"):
    @case(f"tf2onnx-test_layers-test_bidirectional_with_initial_states-{_cls}-return_state",
          f"{TL}::test_bidirectional_with_initial_states (first model, {_cls})", [Kind(lo=0.1)],
          "Bidirectional return_state: output and every direction's states as model outputs")
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        x = L.Input((None, 5))
        return K.Model(x, L.Bidirectional(rnn_class(_cls)(2, return_state=True))(x))

    @case(f"tf2onnx-test_layers-test_bidirectional_with_initial_states-{_cls}",
          f"{TL}::test_bidirectional_with_initial_states (second model, {_cls})", [Kind(lo=0.1), Kind(lo=0.1)],
          "states of one Bidirectional as initial_state of another on a second input")
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        x1, x2 = L.Input((None, 5)), L.Input((None, 5))
        states = L.Bidirectional(rnn_class(_cls)(2, return_state=True))(x1)[1:]
        out = L.Bidirectional(rnn_class(_cls)(2, return_sequences=True))(x2, initial_state=states)
        return K.Model([x1, x2], out)


@case("tf2onnx-test_layers-test_bidirectional_seqlen_none", f"{TL}::test_bidirectional_seqlen_none (GRU)", [ids(39)],
      "Sequential Embedding (float32 input ids, no mask) + Bidirectional GRU sequences + Dense")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((None,)), L.Embedding(39, sz(big, 8, 128)),
                         L.Bidirectional(L.GRU(sz(big, 8, 256), return_sequences=True)), L.Dense(sz(big, 12, 44))])


for _cls in ("LSTM", "GRU", "SimpleRNN"):
    @case(f"tf2onnx-test_layers-test_rnn_state_passing-{_cls}", f"{TL}::test_rnn_state_passing ({_cls})",
          [Kind(lo=0.1), Kind(lo=0.1)], "states of one RNN (return_state) as initial_state of another on a second input")
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        x1, x2 = L.Input((None, 5)), L.Input((None, 5))
        states = rnn_class(_cls)(2, return_state=True)(x1)[1:]
        return K.Model([x1, x2], rnn_class(_cls)(2, return_sequences=True)(x2, initial_state=states))


for _cls in ("SimpleRNN", "GRU", "LSTM"):
    @case(f"tf2onnx-test_layers-test_seq_dynamic_batch_size-{_cls}", f"{TL}::test_seq_dynamic_batch_size ({_cls})",
          [FLOAT], "three stacked unroll=True layers in a Sequential, fixed time 3")
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        units = sz(big, [8, 16, 8], [128, 256, 128])
        c = rnn_class(_cls)
        return K.Sequential([L.Input((3, 4)), c(units[0], return_sequences=True, unroll=True),
                             c(units[1], return_sequences=True, unroll=True), c(units[2], unroll=True)])


for _cls in ("LSTM", "GRU", "SimpleRNN"):
    @case(f"tf2onnx-test_layers-test_masking-{_cls}", f"{TL}::test_masking ({_cls})", [Kind(lo=-2, hi=2)],
          "Masking(0.) then an RNN's last output, time 3", paddings=MASKED)
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        return K.Sequential([L.Input((3, 5)), L.Masking(0.0), rnn_class(_cls)(8)])


for _cls in ("LSTM", "GRU", "SimpleRNN"):
    @case(f"tf2onnx-test_layers-test_masking_bias_bidirectional-{_cls}",
          f"{TL}::test_masking_bias_bidirectional ({_cls})", [Kind(lo=-2, hi=2)],
          "Masking(0.) then a Bidirectional RNN with a random bias", paddings=MASKED)
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        return K.Sequential([L.Input((3, 5)), L.Masking(0.0), L.Bidirectional(rnn_class(_cls)(8), name="bi")])


for _cls in ("LSTM", "GRU"):
    @case(f"tf2onnx-test_layers-test_masking_bias-{_cls}", f"{TL}::test_masking_bias ({_cls})", [Kind(lo=-2, hi=2)],
          "Masking(0.) then an RNN with a random bias", paddings=MASKED)
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        return K.Sequential([L.Input((3, 5)), L.Masking(0.0), rnn_class(_cls)(8, use_bias=True, name="rnn")])

    @case(f"tf2onnx-test_layers-test_masking_value-{_cls}", f"{TL}::test_masking_value ({_cls})",
          [Kind(lo=-2, hi=2, mask_value=5.0)], "Masking(mask_value=5.), rows entirely masked", paddings=MASKED)
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        return K.Sequential([L.Input((3, 5)), L.Masking(5.0), rnn_class(_cls)(8)])


# Masked variants (not in the sources, marked "variant"): the sources mask only a plain RNN's
# input; these put a mask under initial_state, go_backwards, reset_after=False and a
# Bidirectional's returned states, where an exporter is most likely to go wrong.

for _cls in ("LSTM", "GRU", "SimpleRNN"):
    @case(f"tf2onnx-test_layers-test_rnn_state_passing-{_cls}-variant_masked",
          f"{TL}::test_rnn_state_passing ({_cls}; variant: both inputs masked)", [Kind(lo=-2, hi=2)] * 2,
          "masked encoder's states as initial_state of a masked decoder returning sequences", paddings=MASKED)
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        x1, x2 = L.Input((None, 5)), L.Input((None, 5))
        states = rnn_class(_cls)(sz(big, 4, 64), return_state=True)(L.Masking(0.0)(x1))[1:]
        out = rnn_class(_cls)(sz(big, 4, 64), return_sequences=True)(L.Masking(0.0)(x2), initial_state=states)
        return K.Model([x1, x2], out)

    @case(f"tf2onnx-test_layers-test_LSTM_rev-{_cls}-variant_masked",
          f"{TL}::test_LSTM_rev (variant: {_cls}, Masking in front)", [Kind(lo=-2, hi=2)],
          "masked go_backwards=True with return_sequences and return_state", paddings=MASKED)
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        x = L.Input((None, 5))
        out = rnn_class(_cls)(sz(big, 4, 64), go_backwards=True, return_sequences=True, return_state=True)(
            L.Masking(0.0)(x))
        return K.Model(x, list(out))


@case("tf2onnx-test_gru-test_single_dynamic_gru-variant_masked", f"{TGRU}::test_single_dynamic_gru (variant: masked)",
      [Kind(lo=1, hi=4)], "masked GRU reset_after=False, sequences and state", paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    return K.Model(x, list(L.GRU(sz(big, 5, 64), reset_after=False, return_sequences=True, return_state=True)(
        L.Masking(0.0)(x))))


for _cls in ("LSTM", "GRU"):
    @case(f"tf2onnx-test_layers-test_bidirectional_with_initial_states-{_cls}-variant_masked",
          f"{TL}::test_bidirectional_with_initial_states (second model, {_cls}; variant: both inputs masked)",
          [Kind(lo=-2, hi=2)] * 2, "masked Bidirectional's four/two states as initial_state of a masked Bidirectional",
          paddings=MASKED)
    def _(big, _cls=_cls):
        L, K = _L(), _keras()
        x1, x2 = L.Input((None, 5)), L.Input((None, 5))
        states = L.Bidirectional(rnn_class(_cls)(sz(big, 4, 64), return_state=True))(L.Masking(0.0)(x1))[1:]
        out = L.Bidirectional(rnn_class(_cls)(sz(big, 4, 64), return_sequences=True))(L.Masking(0.0)(x2),
                                                                                   initial_state=states)
        return K.Model([x1, x2], out)


def _my_pooling_mask():
    K = _keras()

    class MyPoolingMask(K.layers.Layer):
        """Masked mean over time (a custom layer: refused)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def compute_mask(self, inputs, mask=None):
            return None

        def call(self, inputs, mask=None):
            ops = K.ops
            if mask is None:
                return ops.mean(inputs, axis=-2)
            m = ops.cast(mask, inputs.dtype)
            return ops.sum(inputs * m[..., None], axis=-2) / (ops.sum(m, axis=-1, keepdims=True) + 1e-7)

    return MyPoolingMask()


@case("tf2onnx-test_layers-test_masking_custom", f"{TL}::test_masking_custom", [Kind(lo=-2, hi=2)],
      "Masking then a custom mask-consuming layer (refused)", paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((3, 5)), L.Masking(0.0), _my_pooling_mask()])


@case("tf2onnx-test_layers-test_timedistributed", f"{TL}::test_timedistributed (Dense)", [FLOAT],
      "TimeDistributed(Dense) over a fixed time of 10")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((10, 16)), L.TimeDistributed(L.Dense(8))])


@case("tf2onnx-test_layers-test_keras_lambda-lstm", f"{TL}::test_keras_lambda (with an LSTM after it)", [FLOAT],
      "Lambda(x ** 2) then Flatten, and the same Lambda in front of an LSTM: a Lambda is Python code (refused)")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((3, 5))
    sq = L.Lambda(lambda t: t ** 2)(x)
    return K.Model(x, [L.Flatten()(sq), L.LSTM(4)(sq)])


for _mode in ("sum", "mul", "ave"):
    @case(f"keras-bidirectional-merge_mode_{_mode}", f"keras keras/src/layers/rnn/bidirectional.py (merge_mode='{_mode}')",
          [ids(100)], f"Embedding(mask_zero) -> Bidirectional GRU sequences merged by {_mode} -> Dense",
          paddings=MASKED)
    def _(big, _mode=_mode):
        L, K = _L(), _keras()
        x = L.Input((None,), dtype="int64")
        h = L.Embedding(sz(big, 100, 10000), sz(big, 8, 64), mask_zero=True)(x)
        h = L.Bidirectional(L.GRU(sz(big, 8, 64), return_sequences=True), merge_mode=_mode)(h)
        return K.Model(x, L.Dense(3)(h))


# ---- tensorflow-onnx tests/test_lstm.py, tests/test_gru.py (Keras-level equivalents) -------------


def _uniform_inits(seed=42):
    K = _keras()
    u = K.initializers.RandomUniform
    return dict(kernel_initializer=u(0.0, 1.0, seed=seed), recurrent_initializer=u(0.0, 1.0, seed=seed + 2),
                bias_initializer=u(0.0, 1.0, seed=seed + 1))


def _const_inits():
    K = _keras()
    return dict(kernel_initializer=K.initializers.Constant(0.5), recurrent_initializer=K.initializers.Constant(0.5))


for _name, _extra in (("test_keras_lstm", {}),
                      ("test_keras_lstm_recurrent_activation_is_hard_sigmoid", {"recurrent_activation": "hard_sigmoid"})):
    @case(f"tf2onnx-test_lstm-{_name}", f"{TLSTM}::{_name}", [FLOAT],
          f"LSTM(5) sequences + state, fixed batch 2, uniform(0, 1) weights {_extra or ''}".strip())
    def _(big, _extra=_extra):
        L, K = _L(), _keras()
        x = L.Input((10, 3), batch_size=2)
        y = L.LSTM(5, return_sequences=True, return_state=True, **_uniform_inits(), **_extra)(x)
        m = K.Model(x, list(y))
        m._rnnx_keep_weights = True
        return m


@case("tf2onnx-test_lstm-test_keras_bilstm_recurrent_activation_is_hard_sigmoid",
      f"{TLSTM}::test_keras_bilstm_recurrent_activation_is_hard_sigmoid", [FLOAT],
      "Bidirectional LSTM hard_sigmoid, return_state (five outputs), fixed batch 2")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((10, 3), batch_size=2)
    y = L.Bidirectional(L.LSTM(5, return_sequences=True, return_state=True, recurrent_activation="hard_sigmoid",
                               **_uniform_inits()))(x)
    m = K.Model(x, list(y))
    m._rnnx_keep_weights = True
    return m


@case("tf2onnx-test_lstm-test_keras_lstm_sigmoid_dropout", f"{TLSTM}::test_keras_lstm_sigmoid_dropout", [FLOAT],
      "Sequential LSTM(16, activation='sigmoid', dropout=0.1): dropout is off at inference")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((16, 16), name="input"), L.LSTM(16, activation="sigmoid", dropout=0.1)])


@case("tf2onnx-test_lstm-test_single_dynamic_lstm_seq_length_is_not_const",
      f"{TLSTM}::test_single_dynamic_lstm_seq_length_is_not_const", [Kind(lo=1, hi=5)],
      "sequence lengths as a mask (Masking) on an LSTM with constant 0.5 weights; sequences and both states",
      paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    y = L.LSTM(5, return_sequences=True, return_state=True, **_const_inits())(L.Masking(0.0)(x))
    return K.Model(x, list(y))


@case("tf2onnx-test_lstm-test_single_dynamic_lstm_forget_bias", f"{TLSTM}::test_single_dynamic_lstm_forget_bias",
      [Kind(lo=1, hi=4)], "LSTM with a forget-gate bias (unit_forget_bias), sequences and states")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    y = L.LSTM(5, return_sequences=True, return_state=True, unit_forget_bias=True, **_const_inits())(x)
    m = K.Model(x, list(y))
    m._rnnx_keep_weights = True
    return m


@case("tf2onnx-test_lstm-test_multiple_dynamic_lstm_state_is_tuple",
      f"{TLSTM}::test_multiple_dynamic_lstm_state_is_tuple", [Kind(lo=1, hi=4)],
      "two LSTMs reading the same input (one masked), sequences and states of both")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    a = L.LSTM(5, return_sequences=True, return_state=True)(x)
    b = L.LSTM(5, return_sequences=True, return_state=True)(L.Masking(0.0)(x))
    return K.Model(x, [*a, *b])


@case("tf2onnx-test_lstm-test_dynamic_lstm_state_consumed_only", f"{TLSTM}::test_dynamic_lstm_state_consumed_only",
      [FLOAT], "LSTM return_state where only the states are model outputs")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    _, h, c = L.LSTM(sz(big, 5, 64), return_state=True)(x)
    return K.Model(x, [h, c])


@case("tf2onnx-test_lstm-test_dynamic_bilstm_state_consumed_only",
      f"{TLSTM}::test_dynamic_bilstm_state_consumed_only", [FLOAT],
      "Bidirectional LSTM return_state where only the four states are outputs")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    return K.Model(x, L.Bidirectional(L.LSTM(sz(big, 5, 64), return_state=True))(x)[1:])


@case("tf2onnx-test_lstm-test_dynamic_bilstm_outputs_partially_consumed",
      f"{TLSTM}::test_dynamic_bilstm_outputs_partially_consumed", [FLOAT],
      "Bidirectional LSTM merge_mode=None + return_state: forward sequences and backward cell state only")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    fw, bw, fh, fc, bh, bc = L.Bidirectional(L.LSTM(5, return_sequences=True, return_state=True), merge_mode=None)(x)
    return K.Model(x, [fw, bc])


@case("tf2onnx-test_lstm-test_dynamic_bilstm_unknown_batch_size", f"{TLSTM}::test_dynamic_bilstm_unknown_batch_size",
      [FLOAT], "Bidirectional LSTM states, dynamic batch and time")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    return K.Model(x, L.Bidirectional(L.LSTM(5, return_state=True))(x)[1:])


@case("tf2onnx-test_lstm-test_dynamic_multi_bilstm_with_same_input_hidden_size",
      f"{TLSTM}::test_dynamic_multi_bilstm_with_same_input_hidden_size", [FLOAT],
      "two Bidirectional LSTMs (5 and 10 units) reading the same input, sequences and states of both")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    a = L.Bidirectional(L.LSTM(5, return_sequences=True, return_state=True, **_uniform_inits(42)))(x)
    b = L.Bidirectional(L.LSTM(10, return_sequences=True, return_state=True, **_uniform_inits(44)))(x)
    m = K.Model(x, [*a, *b])
    m._rnnx_keep_weights = True
    return m


@case("tf2onnx-test_gru-test_keras_gru", f"{TGRU}::test_keras_gru", [FLOAT],
      "GRU(5) sequences + state, fixed batch 2, uniform(0, 1) weights")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((10, 3), batch_size=2)
    m = K.Model(x, list(L.GRU(5, return_sequences=True, return_state=True, **_uniform_inits())(x)))
    m._rnnx_keep_weights = True
    return m


@case("tf2onnx-test_gru-test_single_dynamic_gru", f"{TGRU}::test_single_dynamic_gru", [Kind(lo=1, hi=4)],
      "GRU reset_after=False (the TF1 GRUCell form), sequences and state")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    return K.Model(x, list(L.GRU(5, reset_after=False, return_sequences=True, return_state=True)(x)))


@case("tf2onnx-test_gru-test_single_dynamic_gru_seq_length_is_not_const",
      f"{TGRU}::test_single_dynamic_gru_seq_length_is_not_const", [Kind(lo=1, hi=5)],
      "sequence lengths as a mask (Masking) on a GRU, sequences and state", paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    return K.Model(x, list(L.GRU(5, return_sequences=True, return_state=True)(L.Masking(0.0)(x))))


@case("tf2onnx-test_gru-test_multiple_dynamic_gru", f"{TGRU}::test_multiple_dynamic_gru", [FLOAT],
      "two stacked GRUs (the second reads the first's sequences)")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    y = L.GRU(sz(big, 5, 64), return_sequences=True)(x)
    return K.Model(x, list(L.GRU(sz(big, 5, 64), return_sequences=True, return_state=True)(y)))


@case("tf2onnx-test_gru-test_dynamic_bigru", f"{TGRU}::test_dynamic_bigru", [FLOAT],
      "Bidirectional GRU sequences and states")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    return K.Model(x, list(L.Bidirectional(L.GRU(sz(big, 5, 64), return_sequences=True, return_state=True))(x)))


@case("tf2onnx-test_gru-test_dynamic_bidirectional_but_one_gru", f"{TGRU}::test_dynamic_bidirectional_but_one_gru",
      [FLOAT], "Bidirectional with an explicit backward_layer sharing the forward GRU's weights")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    bi = L.Bidirectional(L.GRU(5, return_sequences=True), backward_layer=L.GRU(5, return_sequences=True,
                                                                               go_backwards=True))
    m = K.Model(x, bi(x))
    _randomize_zero_weights(m, np.random.default_rng(3))
    bi.backward_layer.set_weights(bi.forward_layer.get_weights())
    m._rnnx_keep_weights = True
    return m


@case("tf2onnx-test_gru-test_dynamic_bigru_state_consumed_only", f"{TGRU}::test_dynamic_bigru_state_consumed_only",
      [FLOAT], "Bidirectional GRU where only the two states are outputs")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    return K.Model(x, L.Bidirectional(L.GRU(5, return_state=True))(x)[1:])


@case("tf2onnx-test_gru-test_dynamic_multi_bigru_with_same_input_seq_len",
      f"{TGRU}::test_dynamic_multi_bigru_with_same_input_seq_len", [Kind(lo=1, hi=4)],
      "two masked Bidirectional GRUs on the same input, sequences of both", paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 2))
    m = L.Masking(0.0)(x)
    return K.Model(x, [L.Bidirectional(L.GRU(5, return_sequences=True))(m),
                       L.Bidirectional(L.GRU(10, return_sequences=True))(m)])


# ---- keras-io examples -------------------------------------------------------------------------------


@case("keras-io-bidirectional_lstm_imdb", f"{KIO} examples/nlp/bidirectional_lstm_imdb.py (model)", [ids(100)],
      "int32 ids (pad_sequences, left-padded, no mask) -> Embedding -> 2 stacked BiLSTM -> Dense sigmoid")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None,), dtype="int32")
    h = L.Embedding(sz(big, 100, 20000), sz(big, 8, 128))(x)
    h = L.Bidirectional(L.LSTM(sz(big, 8, 64), return_sequences=True))(h)
    h = L.Bidirectional(L.LSTM(sz(big, 8, 64)))(h)
    return K.Model(x, L.Dense(1, activation="sigmoid")(h))


@case("keras-io-addition_rnn", f"{KIO} examples/nlp/addition_rnn.py (model)", [ONEHOT],
      "one-hot characters -> LSTM -> RepeatVector -> LSTM sequences -> Dense softmax (Sequential)")
def _(big):
    L, K = _L(), _keras()
    digits, chars = 3, 12
    return K.Sequential([L.Input((digits + 1 + digits, chars)), L.LSTM(sz(big, 16, 128)),
                         L.RepeatVector(digits + 1), L.LSTM(sz(big, 16, 128), return_sequences=True),
                         L.Dense(chars, activation="softmax")])


def _seq2seq(big):
    L = _L()
    enc_tokens, dec_tokens, latent = sz(big, 12, 71), sz(big, 14, 93), sz(big, 16, 256)
    enc_in = L.Input((None, enc_tokens))
    _, h, c = L.LSTM(latent, return_state=True)(enc_in)
    dec_in = L.Input((None, dec_tokens))
    dec_lstm = L.LSTM(latent, return_sequences=True, return_state=True)
    dec_out, _, _ = dec_lstm(dec_in, initial_state=[h, c])
    dense = L.Dense(dec_tokens, activation="softmax")
    return enc_in, [h, c], dec_in, dec_lstm, dense, dense(dec_out), latent


@case("keras-io-lstm_seq2seq-training_model", f"{KIO} examples/nlp/lstm_seq2seq.py (training model)",
      [ONEHOT, ONEHOT], "encoder LSTM states as the decoder LSTM's initial_state, two one-hot inputs")
def _(big):
    K = _keras()
    enc_in, _, dec_in, _, _, out, _ = _seq2seq(big)
    return K.Model([enc_in, dec_in], out)


@case("keras-io-lstm_seq2seq-encoder_model", f"{KIO} examples/nlp/lstm_seq2seq.py (inference encoder_model)",
      [ONEHOT], "encoder returning its two states as model outputs")
def _(big):
    K = _keras()
    enc_in, states, *_ = _seq2seq(big)
    return K.Model(enc_in, states)


@case("keras-io-lstm_seq2seq-decoder_model", f"{KIO} examples/nlp/lstm_seq2seq.py (inference decoder_model)",
      [ONEHOT, STATE, STATE], "decoder step: states in as model inputs, softmax and new states out")
def _(big):
    L, K = _L(), _keras()
    _, _, dec_in, dec_lstm, dense, _, latent = _seq2seq(big)
    h_in, c_in = L.Input((latent,)), L.Input((latent,))
    out, h, c = dec_lstm(dec_in, initial_state=[h_in, c_in])
    return K.Model([dec_in, h_in, c_in], [dense(out), h, c])


@case("keras-io-timeseries_weather_forecasting", f"{KIO} examples/timeseries/timeseries_weather_forecasting.py",
      [Kind(lo=-2, hi=2)], "LSTM(32) over (120 steps, 7 features) -> Dense(1)")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((sz(big, 20, 120), 7))
    return K.Model(x, L.Dense(1)(L.LSTM(sz(big, 16, 32))(x)))


@case("keras-io-timeseries_forecasting_with_lstm_for_temperature_prediction",
      f"{KIO} examples/timeseries/timeseries_forecasting_with_lstm_for_temperature_prediction.py", [Kind(lo=0, hi=30)],
      "Sequential LSTM(20) over 10 steps of 3 features -> Dense(1)")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((10, 3)), L.LSTM(sz(big, 16, 20)), L.Dense(1)])


@case("keras-io-multivariate_timeseries_forecasting_using_lstm",
      f"{KIO} examples/timeseries/multivariate_timeseries_forecasting_using_lstm.py", [Kind(lo=-2, hi=2)],
      "3 stacked LSTMs with LeakyReLU(0.5) and Dropout between them, window 60 x 5 features")
def _(big):
    L, K = _L(), _keras()
    u = sz(big, 16, 128)
    return K.Sequential([L.Input((sz(big, 20, 60), 5)), L.LSTM(u, return_sequences=True), L.LeakyReLU(0.5),
                         L.LSTM(u, return_sequences=True), L.LeakyReLU(0.5), L.Dropout(0.3),
                         L.LSTM(sz(big, 8, 64)), L.Dropout(0.3), L.Dense(1)])


@case("keras-io-lstm_vs_cnn_timeseries_classification-lstm",
      f"{KIO} examples/timeseries/lstm_vs_cnn_timeseries_classification.py::build_lstm_model", [Kind(lo=-2, hi=2)],
      "2 stacked LSTMs with dropout and recurrent_dropout, Dense relu, Dense softmax")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((sz(big, 20, 500), 1)),
                         L.LSTM(sz(big, 16, 64), return_sequences=True, dropout=0.3, recurrent_dropout=0.3),
                         L.LSTM(sz(big, 8, 32), dropout=0.3, recurrent_dropout=0.3),
                         L.Dense(16, activation="relu"), L.Dense(2, activation="softmax")])


@case("keras-io-lstm_vs_cnn_timeseries_classification-cnn",
      f"{KIO} examples/timeseries/lstm_vs_cnn_timeseries_classification.py::build_cnn_model", [Kind(lo=-2, hi=2)],
      "the CNN it is compared with: Conv1D same relu, BatchNormalization, MaxPooling1D, GlobalAveragePooling1D")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((sz(big, 20, 500), 1)),
                         L.Conv1D(sz(big, 8, 64), 7, padding="same", activation="relu"), L.BatchNormalization(),
                         L.MaxPooling1D(2), L.Dropout(0.3),
                         L.Conv1D(sz(big, 16, 128), 5, padding="same", activation="relu"), L.BatchNormalization(),
                         L.MaxPooling1D(2), L.Dropout(0.3), L.GlobalAveragePooling1D(),
                         L.Dense(16, activation="relu"), L.Dense(2, activation="softmax")])


# ---- keras-io guides/working_with_rnns.py -----------------------------------------------------------


@case("keras-io-working_with_rnns-embedding_lstm", f"{RNN_GUIDE} (Built-in RNN layers: a simple example)",
      [ids(100)], "Sequential Embedding -> LSTM -> Dense(10), float32 input ids (the guide gives no Input dtype)")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((None,)), L.Embedding(sz(big, 100, 1000), sz(big, 8, 64)), L.LSTM(sz(big, 16, 128)),
                         L.Dense(10)])


@case("keras-io-working_with_rnns-gru_simplernn", f"{RNN_GUIDE} (Outputs and states: GRU sequences + SimpleRNN)",
      [ids(100)], "Embedding -> GRU sequences -> SimpleRNN -> Dense(10)")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((None,)), L.Embedding(sz(big, 100, 1000), sz(big, 8, 64)),
                         L.GRU(sz(big, 16, 256), return_sequences=True), L.SimpleRNN(sz(big, 16, 128)), L.Dense(10)])


@case("keras-io-working_with_rnns-encoder_decoder_states", f"{RNN_GUIDE} (Outputs and states: encoder-decoder)",
      [ids(100), ids(90)], "two float32 id inputs, encoder LSTM states into the decoder LSTM, Dense(10)")
def _(big):
    L, K = _L(), _keras()
    u, e = sz(big, 16, 64), sz(big, 8, 64)
    enc_in, dec_in = L.Input((None,)), L.Input((None,))
    _, h, c = L.LSTM(u, return_state=True, name="encoder")(L.Embedding(sz(big, 100, 1000), e)(enc_in))
    dec = L.LSTM(u, name="decoder")(L.Embedding(sz(big, 90, 2000), e)(dec_in), initial_state=[h, c])
    return K.Model([enc_in, dec_in], L.Dense(10)(dec))


for _cudnn in (True, False):
    @case(f"keras-io-working_with_rnns-build_model-{'lstm' if _cudnn else 'rnn_lstmcell'}",
          f"{RNN_GUIDE}::build_model(allow_cudnn_kernel={_cudnn})", [FLOAT],
          f"{'LSTM' if _cudnn else 'RNN(LSTMCell)'} over MNIST rows (None, 28) -> BatchNormalization -> Dense(10)")
    def _(big, _cudnn=_cudnn):
        L, K = _L(), _keras()
        u = sz(big, 16, 64)
        rnn = L.LSTM(u) if _cudnn else L.RNN(L.LSTMCell(u))
        return K.Sequential([L.Input((None, 28)), rnn, L.BatchNormalization(), L.Dense(10)])


@case("keras-io-working_with_rnns-stateful", f"{RNN_GUIDE} (Cross-batch statefulness)", [FLOAT],
      "LSTM(stateful=True) with a fixed batch: state carried across calls (refused)")
def _(big):
    L, K = _L(), _keras()
    x = L.Input(batch_shape=(4, 10, 50))
    return K.Model(x, L.LSTM(sz(big, 16, 64), stateful=True)(x))


@case("keras-io-working_with_rnns-bidirectional", f"{RNN_GUIDE} (Bidirectional RNNs)", [FLOAT],
      "Sequential Bidirectional LSTM sequences -> Bidirectional LSTM -> Dense(10), time 5")
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((5, 10)), L.Bidirectional(L.LSTM(sz(big, 16, 64), return_sequences=True)),
                         L.Bidirectional(L.LSTM(sz(big, 8, 32))), L.Dense(10)])


def _minimal_cell(units):
    K = _keras()

    class MinimalRNNCell(K.layers.Layer):
        """A custom cell (the keras.layers.RNN docstring's example): refused."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            out = K.ops.matmul(inputs, self.kernel) + K.ops.matmul(states[0], self.recurrent_kernel)
            return out, [out]

    return MinimalRNNCell(units)


@case("keras-io-working_with_rnns-custom_cell", f"{RNN_GUIDE} (RNNs with list/dict inputs: NestedCell)", [FLOAT],
      "keras.layers.RNN over a user-defined cell (refused); Keras 3's RNN takes no nested inputs, so the "
      "NestedCell is re-created as a one-input custom cell")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 8))
    return K.Model(x, L.RNN(_minimal_cell(sz(big, 10, 32)))(x))


@case("keras-stacked_rnn_cells", "keras keras/src/layers/rnn/stacked_rnn_cells.py (StackedRNNCells docstring)",
      [FLOAT], "RNN(StackedRNNCells([LSTMCell, LSTMCell])) returning sequences")
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 5))
    cells = L.StackedRNNCells([L.LSTMCell(sz(big, 8, 64)), L.LSTMCell(sz(big, 8, 64))])
    return K.Model(x, L.RNN(cells, return_sequences=True)(x))


# ---- keras-io guides/understanding_masking_and_padding.py -------------------------------------------


@case("keras-io-understanding_masking-sequential_mask_zero", f"{MASK_GUIDE} (Mask propagation: Sequential)",
      [ids(100)], "Sequential Embedding(mask_zero=True) -> LSTM(32); fed left-padded (pad_sequences default), "
      "right-padded and holed ids", paddings=("left", "mixed"))
def _(big):
    L, K = _L(), _keras()
    return K.Sequential([L.Input((None,)), L.Embedding(sz(big, 100, 5000), sz(big, 8, 16), mask_zero=True),
                         L.LSTM(sz(big, 16, 32))])


@case("keras-io-understanding_masking-functional_mask_zero", f"{MASK_GUIDE} (Mask propagation: Functional API)",
      [ids(100)], "int32 ids -> Embedding(mask_zero=True) -> LSTM(32); padding='post'", paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None,), dtype="int32")
    return K.Model(x, L.LSTM(sz(big, 16, 32))(L.Embedding(sz(big, 100, 5000), sz(big, 8, 16), mask_zero=True)(x)))


@case("keras-io-understanding_masking-masking_layer", f"{MASK_GUIDE} (Mask-generating layers: Masking)",
      [Kind(lo=1, hi=5)], "Masking() on float features (10 per step) -> LSTM sequences", paddings=("left", "mixed"))
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None, 10))
    return K.Model(x, L.LSTM(sz(big, 8, 32), return_sequences=True)(L.Masking()(x)))


def _my_activation():
    K = _keras()

    class MyActivation(K.layers.Layer):
        """relu that passes the mask along (a custom layer: refused)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return K.ops.relu(inputs)

    return MyActivation()


@case("keras-io-understanding_masking-my_activation", f"{MASK_GUIDE} (Opting-in to mask propagation: MyActivation)",
      [ids(100)], "custom mask-propagating layer between Embedding(mask_zero) and LSTM (refused)", paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None,), dtype="int32")
    h = _my_activation()(L.Embedding(sz(big, 100, 5000), 16, mask_zero=True)(x))
    return K.Model(x, L.LSTM(32)(h))


def _temporal_softmax():
    K = _keras()

    class TemporalSoftmax(K.layers.Layer):
        """Softmax over time that drops masked steps (a custom mask consumer: refused)."""

        def call(self, inputs, mask=None):
            ops = K.ops
            m = ops.expand_dims(ops.cast(mask, "float32"), -1)
            e = ops.exp(inputs) * m
            return e / ops.sum(inputs * m, axis=1, keepdims=True)

    return TemporalSoftmax()


@case("keras-io-understanding_masking-temporal_softmax", f"{MASK_GUIDE} (Writing layers that need mask information)",
      [ids(10)], "Embedding(mask_zero) -> Dense(1) -> custom TemporalSoftmax (refused)", paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None,), dtype="int32")
    return K.Model(x, _temporal_softmax()(L.Dense(1)(L.Embedding(10, 32, mask_zero=True)(x))))


# ---- TensorFlow tutorial text_classification_rnn -----------------------------------------------------


@case("tensorflow-text_classification_rnn-bilstm", f"{TEXT_RNN} (first model)", [ids(100)],
      "Embedding(mask_zero=True) -> Bidirectional LSTM -> Dense relu -> Dense(1); int64 ids after TextVectorization",
      paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None,), dtype="int64")
    h = L.Bidirectional(L.LSTM(sz(big, 16, 64)))(L.Embedding(sz(big, 100, 1000), sz(big, 8, 64), mask_zero=True)(x))
    return K.Model(x, L.Dense(1)(L.Dense(sz(big, 16, 64), activation="relu")(h)))


@case("tensorflow-text_classification_rnn-stacked_bilstm", f"{TEXT_RNN} (stacked model)", [ids(100)],
      "Embedding(mask_zero=True) -> 2 stacked Bidirectional LSTMs -> Dense relu -> Dropout -> Dense(1)",
      paddings=MASKED)
def _(big):
    L, K = _L(), _keras()
    x = L.Input((None,), dtype="int64")
    h = L.Embedding(sz(big, 100, 1000), sz(big, 8, 64), mask_zero=True)(x)
    h = L.Bidirectional(L.LSTM(sz(big, 16, 64), return_sequences=True))(h)
    h = L.Bidirectional(L.LSTM(sz(big, 8, 32)))(h)
    h = L.Dropout(0.5)(L.Dense(sz(big, 16, 64), activation="relu")(h))
    return K.Model(x, L.Dense(1)(h))


CASES_BY_ID = {c.id: c for c in CASES}
assert len(CASES_BY_ID) == len(CASES), "case ids must be unique"
