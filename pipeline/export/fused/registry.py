"""Which function converts which Keras layer (or graph operation).

A converter is registered for one or more exact types; adding a layer to the
fused exporter means writing one function::

    @converts(keras.layers.Dropout)
    def dropout(ctx, layer, args, kwargs):
        return args[0]          # an inference no-op: the input Value flows on

A converter receives the conversion context, the Keras layer, and the call's
positional and keyword arguments with every Keras tensor replaced by its
:class:`~pipeline.export.fused.values.Value`; it returns a Value or a list of
Values (one per output tensor of the call).

``check(layer)`` (optional) returns a reason the layer cannot be converted (an
activation without an ONNX equivalent, a stateful RNN), or ``None``.
``per_step=True`` marks converters that act on each time step on its own, which
``TimeDistributed`` may wrap.

A type that must never convert, whatever its settings, is registered with a
reason instead (``refuses(keras.layers.Lambda, reason=...)``): the reason shows in
``unsupported_layers`` and in the error ``convert`` raises, so they agree.

Lookup is by exact type: a user subclass of ``LSTM`` with its own ``call`` is
not silently treated as an ``LSTM``. The registry does not import the converter
modules; the exporter does (``pipeline.export.fused.all_layers``).

>>> import keras
>>> from pipeline.export.fused import all_layers  # noqa: F401  (registers every converter)
>>> find(keras.layers.Dense(2)).per_step
True
>>> find(keras.layers.Dense(2)).refusal is None
True
>>> unsupported_reason(keras.layers.Lambda(lambda t: t, name="fn"))[:38]
'fn (Lambda: Lambda runs arbitrary Pyth'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

Check = Callable[[object], Optional[str]]


@dataclass(frozen=True)
class Converter:
    fn: Callable
    check: Check | None = None
    per_step: bool = False
    tensor_kwargs: tuple[str, ...] = ()   # keyword arguments besides ``mask`` that may carry tensors
    refusal: str | None = None            # set by :func:`refuses`: the type never converts, for this reason
    right_masks_check: Check | None = None  # applies with masks="right" only (zeros at masked steps)
    streaming: Check | bool | None = None   # streaming exports: True, a check, or None (per-step layers only)
    batch_check: Check | None = None        # applies to whole-sequence (non-streaming) exports only
    input_masks: bool = False               # the converter reads kwargs["input_masks"]: each input's mask or None


CONVERTERS: dict[type, Converter] = {}


def converts(*types: type | None, check: Check | None = None, per_step: bool = False,
             tensor_kwargs: tuple[str, ...] = (), right_masks_check: Check | None = None,
             streaming: Check | bool | None = None, batch_check: Check | None = None, input_masks: bool = False):
    """Register the decorated function as the converter for ``types``.

    ``None`` entries are skipped, so optional classes (absent in some Keras
    versions) can be listed as ``getattr(module, "Name", None)``.
    ``right_masks_check`` is a ``check`` that matters only when masks are exported
    right-padded (``masks="right"``, where masked steps of recurrent outputs are 0
    instead of Keras's carried values). ``streaming``: whether the layer may be
    part of a streaming export (one chunk of steps at a time, state carried
    between calls): ``True``, a check giving the reason it may not, or ``None``
    (the default: only ``per_step`` layers stream); ``batch_check`` applies to
    whole-sequence exports only (``stateful=True`` layers stream, but carry state
    no whole-sequence graph can hold). ``input_masks``: the converter is given
    ``kwargs["input_masks"]``, the Keras mask of each input tensor (a Value or
    ``None``), for layers that use their inputs' masks without a ``mask`` argument
    (Keras's ``Multiply``, ``Maximum``, ``Minimum``).
    """

    def register(fn):
        for t in types:
            if t is None:
                continue
            if t in CONVERTERS:
                raise RuntimeError(f"{t.__name__} already has a converter: {CONVERTERS[t].fn.__qualname__}")
            CONVERTERS[t] = Converter(fn, check, per_step, tuple(tensor_kwargs), None, right_masks_check, streaming,
                                      batch_check, input_masks)
        return fn

    return register


def refuses(*types: type | None, reason: str) -> None:
    """Register ``types`` as known and never converted, with the ``reason`` users are shown.

    Better than leaving them unregistered: the message can say what to do instead.
    """
    if not reason:
        raise ValueError("a refusal needs a reason")

    def refuse(ctx, layer, args, kwargs):
        raise ctx.fail(layer, reason)

    converts(*types, check=lambda layer: reason)(refuse)
    for t in types:
        if t is not None:
            CONVERTERS[t] = Converter(refuse, CONVERTERS[t].check, refusal=reason)


def find(layer) -> Converter | None:
    return CONVERTERS.get(type(layer))


def describe(layer) -> str:
    """``"name (Type)"``, the form errors and :func:`unsupported_reason` use."""
    return f"{getattr(layer, 'name', '?')} ({type(layer).__name__})"


STREAMING_REFUSAL = ("reads other time steps than the current one; a streaming export takes per-step layers and "
                     "unidirectional recurrent layers only")


def _streaming_problem(conv: Converter, layer) -> str | None:
    if conv.streaming is True or (conv.streaming is None and conv.per_step):
        return None
    if callable(conv.streaming):
        return conv.streaming(layer)
    return STREAMING_REFUSAL


def unsupported_reason(layer, options=None) -> str | None:
    """``None`` when ``layer`` converts; otherwise ``"name (Type)"`` or ``"name (Type: reason)"``.

    ``options``: the export's :class:`~pipeline.export.fused.context.Options`, for
    the checks that depend on the mask form or on streaming (default: exact masks,
    no streaming).
    """
    conv = find(layer)
    if conv is None:
        return describe(layer)
    checks = [conv.check]
    if getattr(options, "masks", "exact") == "right":
        checks.append(conv.right_masks_check)
    if getattr(options, "streaming", False):
        checks.append(lambda lay: _streaming_problem(conv, lay))
    else:
        checks.append(conv.batch_check)
    for check in checks:
        why = check(layer) if check is not None else None
        if why:
            return f"{getattr(layer, 'name', '?')} ({type(layer).__name__}: {why})"
    return None
