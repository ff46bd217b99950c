"""Streaming inference: feed a sequence a chunk at a time, the recurrent state kept between calls.

``model.stream.onnx`` (``rnnx export --streaming``, or
``pipeline.export.to_onnx(model, streaming=True)``) reads one chunk of steps and
carries each recurrent layer's state in ``state_in.<layer>.<h|c>`` and out in
``state_out.<layer>.<h|c>``. :class:`Stream` holds those states, so each
``push`` costs the new steps only, not the whole prefix again. Imports numpy and
onnxruntime only.

* :class:`Stream` -- any stream model: ``push(inputs) -> outputs``, ``reset()``;
  ``batch`` streams side by side (a stream with nothing new this call is fed
  padding and keeps its state, where the model has a mask).
* :class:`TagStream` -- an rnnx tagger's export folder: ``push(["They", "are"])``
  returns ``[("They", "PRON"), ("are", "VERB")]``, token by token as they arrive.

Example::

    stream = Stream("export/kws/model.stream.onnx")
    for frame in microphone_frames():          # [features] each
        scores = stream.push(frame[None])        # [1, labels] for this frame
    stream.reset()                                # a new utterance starts from zeros

    tags = TagStream("export/pos-uni")
    tags.push(["They", "are"]) + tags.push(["early", "birds", "."])
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pipeline.errors import RnnxError

STATE_IN, STATE_OUT = "state_in.", "state_out."


class Stream:
    """A stream model with its state: ``push`` a chunk, get that chunk's outputs.

    ``inputs`` to :meth:`push` are the model's own inputs (not the states): one array
    for a single-input model, a sequence in graph order, or a mapping by name. With
    ``batch=1`` the batch axis may be left out (``[chunk, ...]``); outputs then
    come back without it too.
    """

    def __init__(self, model: Path | str, *, batch: int = 1, threads: int | None = 1, session=None):
        from pipeline.runtime.session import make_session

        self.path = Path(model)
        self.session = session or make_session(self.path, threads)
        graph_inputs = self.session.get_inputs()
        self.state_names = [i.name for i in graph_inputs if i.name.startswith(STATE_IN)]
        if not self.state_names:
            raise RnnxError(f"{self.path} has no state_in.* inputs: it is not a stream model (export it with "
                            "`rnnx export ... --streaming`)")
        self.input_names = [i.name for i in graph_inputs if not i.name.startswith(STATE_IN)]
        self._input_ranks = {i.name: len(i.shape) for i in graph_inputs}
        self._input_types = {i.name: i.type for i in graph_inputs}
        self.output_names = [o.name for o in self.session.get_outputs() if not o.name.startswith(STATE_OUT)]
        self._units = {i.name: int(i.shape[1]) for i in graph_inputs if i.name.startswith(STATE_IN)}
        self.batch = batch
        self.steps = 0
        self.reset()

    def reset(self, rows: Sequence[int] | None = None) -> None:
        """Start over from zero states: every stream, or only ``rows`` of the batch."""
        if rows is None:
            self.state = {n: np.zeros((self.batch, u), np.float32) for n, u in self._units.items()}
            self.steps = 0
            return
        for n in self.state:
            self.state[n][list(rows)] = 0.0

    def _feeds(self, inputs) -> tuple[dict, bool]:
        if isinstance(inputs, Mapping):
            arrays = [inputs[n] for n in self.input_names if n in inputs]
            if len(arrays) != len(self.input_names):
                raise RnnxError(f"{self.path} reads {self.input_names}; got {sorted(inputs)}")
        elif isinstance(inputs, (list, tuple)) and len(self.input_names) > 1:
            arrays = list(inputs)
        else:
            arrays = [inputs]
        if len(arrays) != len(self.input_names):
            raise RnnxError(f"{self.path} reads {len(self.input_names)} inputs ({self.input_names}); got "
                            f"{len(arrays)}")
        feeds, unbatched = {}, False
        for name, arr in zip(self.input_names, arrays):
            arr = np.asarray(arr)
            if arr.ndim == self._input_ranks[name] - 1:
                if self.batch != 1:
                    raise RnnxError(f"{name}: a stream of {self.batch} rows needs a batch axis; got {arr.shape}")
                arr, unbatched = arr[None], True
            if arr.ndim != self._input_ranks[name] or arr.shape[0] != self.batch:
                raise RnnxError(f"{name} must be [batch={self.batch}, chunk, ...]; got shape {arr.shape}")
            dtype = np.int64 if "int64" in self._input_types[name] else (
                np.int32 if "int32" in self._input_types[name] else np.float32)
            feeds[name] = arr.astype(dtype, copy=False)
        return feeds, unbatched

    def push(self, inputs) -> dict[str, np.ndarray]:
        """Run one chunk; the states move on. Returns the model's outputs for the chunk, by name."""
        feeds, unbatched = self._feeds(inputs)
        names = self.output_names + [n.replace(STATE_IN, STATE_OUT, 1) for n in self.state_names]
        got = self.session.run(names, {**feeds, **self.state})
        outputs = dict(zip(self.output_names, got[:len(self.output_names)]))
        self.state = {n: s for n, s in zip(self.state_names, got[len(self.output_names):])}
        self.steps += next(iter(feeds.values())).shape[1]
        return {k: v[0] for k, v in outputs.items()} if unbatched else outputs


class TagStream:
    """An rnnx tagger export, tagging tokens as they arrive (``model.stream.onnx`` of ``export/NAME``)."""

    def __init__(self, folder: Path | str, *, threads: int | None = 1):
        from pipeline.runtime.session import ExportedModel

        folder = Path(folder)
        model = ExportedModel(folder, threads=threads)
        if model.task != "tagging":
            raise RnnxError(f"{folder} holds a {model.task} model; TagStream tags tokens (use Stream for "
                            "running classification)")
        stream_file = (model.info.get("streaming") or {}).get("file")
        if not stream_file or not (folder / stream_file).exists():
            raise RnnxError(f"{folder} has no model.stream.onnx; export it with `rnnx export ... --streaming`")
        self.model, self.labels = model, model.labels.names
        self.stream = Stream(folder / stream_file, threads=threads)

    def reset(self) -> None:
        self.stream.reset()

    def push(self, tokens: Sequence[str], *, with_probs: bool = False) -> list[tuple]:
        """Tags for ``tokens``, the next words of the current sentence (the state carries the earlier ones).

        ``with_probs``: ``(token, tag, probability of that tag)`` triples instead of pairs.
        """
        if isinstance(tokens, str):
            raise RnnxError("TagStream.push takes a list of tokens, e.g. push(['They', 'are']); "
                            "split a string with str.split() or the tagger's tokenize()")
        if not tokens:
            return []
        from pipeline.data.features import as_feeds

        encoder = self.model.encoder
        probs = self.stream.push(as_feeds(encoder.collate([encoder.encode(list(tokens))])))["probs"][0]
        if with_probs:
            return [(t, self.labels[int(p.argmax())], float(p.max())) for t, p in zip(tokens, probs)]
        return [(t, self.labels[int(p.argmax())]) for t, p in zip(tokens, probs)]
