"""Self-contained models: strings in, label strings out (``model.text.onnx``).

An application that has ONNX Runtime and nothing else cannot use ``model.onnx``
alone: it would also need our vocabulary, our lowercasing and our label names.
The text model puts all three inside the graph, around the id model::

    tokens  string [batch, time], "" = padding (right-padded)
      -> StringNormalizer(LOWER, locale "C")     only when the vocabulary is lowercased
      -> ai.onnx.ml.LabelEncoder(word -> id)     unknown -> 1, "" -> 0
      -> the id model (model.onnx, inlined with the name prefix "idmodel/", :mod:`pipeline.export.onnx_surgery`)
      -> ArgMax -> ai.onnx.ml.LabelEncoder(id -> label)

Outputs: tagger ``tags`` string [batch, time] ("" at padding), ``probs`` float32
[batch, time, labels] and ``ids`` int64 [batch, time]; classifier ``label``
string [batch], ``probs`` float32 [batch, labels] and ``ids``.

**Lowercasing exactly like Python.** ``StringNormalizer`` needs a locale; the
default (en_US.UTF-8) is missing on many machines and "C" is everywhere, but "C"
lowercases ASCII letters only (``"ÉCOLE"`` -> ``"École"``, Python gives
``"école"``). The lookup table therefore also holds, for every vocabulary word,
each spelling whose non-ASCII letters are in another case (``"École"`` -> id of
``"école"``, :mod:`pipeline.export.text_lookup`): the graph then maps every token
to the id Python's ``Vocabulary.encode`` gives (checked on the held-out split by
:func:`pipeline.check.text.check_text_model`). Known limits: a word with more than
:data:`~pipeline.export.text_lookup.MAX_SPELLINGS` such spellings keeps the first
ones; characters whose lowercase is two characters (``"İ"``) are not covered.

**Raw text** (classifiers): ``model.rawtext.onnx`` takes ``text`` string [batch]
and splits it with ``StringSplit`` (opset 20) on the space character, so
``"fun, isn't it?"`` gives the tokens ``fun,`` ``isn't`` ``it?`` where
:func:`pipeline.data.tokenize.tokenize` gives ``fun`` ``,`` ``is`` ``n't`` ``it``
``?``; tabs and newlines are not separators. Send text whose punctuation is already
separated by spaces, or accept the difference (measured by ``rnnx check``).

**Padding.** ``""`` anywhere is padding (id 0); a token typed as ``"<pad>"`` or
``"<unk>"`` is an unknown word (id 1), not padding (Python's ``Vocabulary.encode``
would give ``"<pad>"`` id 0). The graph appends one ``""`` column before the id
model, so a batch of width 0 works, and cuts the outputs back to the input width.

Opsets and IR (loading checked with ONNX Runtime 1.16.3, 1.17.3, 1.32 and
onnxruntime-node 1.30):

=====================  ===========  ==========  ==  =====================
file                   ai.onnx      ai.onnx.ml  IR  ONNX Runtime
=====================  ===========  ==========  ==  =====================
model.text.onnx        17 (as id)   2           8   1.16+
model.rawtext.onnx     20           2           9   1.17+ (StringSplit)
=====================  ===========  ==========  ==  =====================

Example::

    write_text_models("export/pos")        # -> {"model.text.onnx": {...}}
    import onnxruntime as ort, numpy as np
    sess = ort.InferenceSession("export/pos/model.text.onnx")
    tags, probs, ids = sess.run(None, {"tokens": np.array([["They", "fly", ""]], dtype=object)})
    # tags -> [['PRON', 'VERB', '']]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.vocab import OOV_ID, PAD_ID, Vocabulary
from pipeline.errors import ExportError
from pipeline.export.contract import write_metadata
from pipeline.export.onnx_surgery import min_ir_version, opset_version, prefixed_graph
from pipeline.export.text_lookup import lookup_table

TOKENS_INPUT = "tokens"
TEXT_INPUT = "text"
TEXT_OPSET = 17
RAWTEXT_OPSET = 20  # StringSplit
ML_OPSET = 2  # ai.onnx.ml LabelEncoder-2 (string <-> int64 attributes)
TEXT_IR = 8
RAWTEXT_IR = 9  # opset 20 needs IR >= 9; ORT 1.17 reads it, onnxruntime-node 1.30 reads up to 13
PREFIX = "idmodel/"
MIN_ORT = {TEXT_OPSET: "1.16", RAWTEXT_OPSET: "1.17"}


def text_file_name(source: str = "model.onnx", raw: bool = False) -> str:
    """``model.onnx`` -> ``model.text.onnx`` (``model.rawtext.onnx`` when ``raw``).

    >>> text_file_name("model.int8.onnx"), text_file_name(raw=True)
    ('model.int8.text.onnx', 'model.rawtext.onnx')
    """
    stem = source[: -len(".onnx")] if source.endswith(".onnx") else source
    return f"{stem}.{'rawtext' if raw else 'text'}.onnx"


# --------------------------------------------------------------------------- graph pieces


class _Graph:
    """Nodes and constants for the wrapper graph, all named ``text/...``."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"text/{hint}_{self._n}"

    def const(self, value, hint: str = "const") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, *, outputs: list[str] | None = None,
           n_out: int = 1, domain: str = "", **attrs) -> str | list[str]:
        from onnx import helper

        outs = outputs or [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs


def _add_padding_column(g: _Graph, tokens: str) -> tuple[str, str]:
    """Append one "" column, so the id model never sees ``time == 0``; returns (tokens, time)."""
    shape = g.op("Shape", [tokens], "shape")
    batch = g.op("Slice", [shape, g.const([0]), g.const([1]), g.const([0])], "batch")
    time = g.op("Slice", [shape, g.const([1]), g.const([2]), g.const([0])], "time")
    col_shape = g.op("Concat", [batch, g.const([1])], "col_shape", axis=0)
    col = g.op("Expand", [g.const(np.array([[""]], dtype=object), "empty"), col_shape], "col")
    return g.op("Concat", [tokens, col], "padded_tokens", axis=1), time


def _normalise(g: _Graph, tokens: str) -> str:
    """Lowercase every token (locale "C"); StringNormalizer wants a non-empty 1-D input."""
    shape = g.op("Shape", [tokens], "shape")
    flat = g.op("Reshape", [tokens, g.const([-1])], "flat")
    flat = g.op("Concat", [flat, g.const(np.array([""], dtype=object), "empty")], "flat_plus", axis=0)
    low = g.op("StringNormalizer", [flat], "lower", case_change_action="LOWER", is_case_sensitive=1, locale="C")
    low = g.op("Slice", [low, g.const([0]), g.const([-1]), g.const([0])], "lower_flat")
    return g.op("Reshape", [low, shape], "normalised")


def _cut_time(g: _Graph, tensor: str, time: str, output: str) -> str:
    return g.op("Slice", [tensor, g.const([0]), time, g.const([1])], outputs=[output])


def build_text_model(id_model, vocab: Vocabulary, labels: list[str], task: str, *, raw_text: bool = False,
                     metadata: dict | None = None):
    """Wrap ``id_model`` (``ids`` -> ``probs``) into a strings-in, labels-out model.

    ``raw_text=True`` (classifiers) takes ``text`` string [batch] and splits it on spaces.
    Returns an ``onnx.ModelProto`` that passed the full ONNX checker.
    """
    import onnx
    from onnx import TensorProto, helper

    if task not in ("tagging", "classification"):
        raise ExportError(f"task must be tagging or classification, got {task!r}")
    if raw_text and task != "classification":
        raise ExportError("a raw-text model is built for classifiers only; taggers need one label per token, "
                          "so send tokens to model.text.onnx")
    if [i.name for i in id_model.graph.input] != ["ids"] or [o.name for o in id_model.graph.output] != ["probs"]:
        raise ExportError("the id model must have exactly one input 'ids' and one output 'probs' "
                          "(see pipeline.export.contract); re-export it with `rnnx export`")
    opset = RAWTEXT_OPSET if raw_text else max(TEXT_OPSET, opset_version(id_model, ""))
    inner = onnx.ModelProto()
    inner.CopyFrom(id_model)
    if opset_version(inner, "") != opset:
        from onnx import version_converter

        try:
            inner = version_converter.convert_version(inner, opset)
        except Exception as exc:  # the converter raises plain RuntimeErrors
            raise ExportError(f"cannot convert the id model to opset {opset} for the raw-text model: {exc}") from None
    body = prefixed_graph(inner.graph, PREFIX)

    g = _Graph()
    if raw_text:
        tokens, _counts = g.op("StringSplit", [TEXT_INPUT], "split", n_out=2)
        graph_input = helper.make_tensor_value_info(TEXT_INPUT, TensorProto.STRING, ["batch"])
        graph_input.doc_string = ("string [batch]: one text per row, split on spaces inside the graph "
                                  "(separate punctuation with spaces for tokenizer-exact results)")
    else:
        tokens = TOKENS_INPUT
        graph_input = helper.make_tensor_value_info(TOKENS_INPUT, TensorProto.STRING, ["batch", "time"])
        graph_input.doc_string = 'string [batch, time]: tokens, right-padded with "" (padding)'
    padded, time = _add_padding_column(g, tokens)
    normalised = _normalise(g, padded) if vocab.lowercase else padded
    keys, ids, lookup_stats = lookup_table(vocab)
    g.op("LabelEncoder", [normalised], outputs=[PREFIX + "ids"], domain="ai.onnx.ml",
         keys_strings=keys, values_int64s=ids, default_int64=OOV_ID)
    model_ids, model_probs = PREFIX + "ids", PREFIX + "probs"
    post = _Graph()
    post._n = g._n
    label_keys = list(range(len(labels)))
    outputs = []
    if task == "tagging":
        _cut_time(post, model_ids, time, "ids")
        _cut_time(post, model_probs, time, "probs")
        best = post.op("ArgMax", ["probs"], "best", axis=-1, keepdims=0)
        real = post.op("Cast", [post.op("Not", [post.op("Equal", ["ids", post.const(np.int64(PAD_ID))])])],
                       "real", to=TensorProto.INT64)
        code = post.op("Mul", [post.op("Add", [best, post.const(np.int64(1))]), real], "code")
        post.op("LabelEncoder", [code], outputs=["tags"], domain="ai.onnx.ml",
                keys_int64s=[0, *(k + 1 for k in label_keys)], values_strings=["", *labels], default_string="")
        outputs += [_out("tags", TensorProto.STRING, ["batch", "time"], 'string [batch, time]: one tag per token, "" at padding'),
                    _out("probs", TensorProto.FLOAT, ["batch", "time", len(labels)],
                         "float32 [batch, time, labels]: tag probabilities (not meaningful at padding)")]
        outputs.append(_out("ids", TensorProto.INT64, ["batch", "time"], "int64 [batch, time]: vocabulary ids (0 padding, 1 unknown)"))
    else:
        post.op("Identity", [model_probs], outputs=["probs"])
        _cut_time(post, model_ids, time, "ids")
        best = post.op("ArgMax", ["probs"], "best", axis=-1, keepdims=0)
        post.op("LabelEncoder", [best], outputs=["label"], domain="ai.onnx.ml",
                keys_int64s=label_keys, values_strings=list(labels), default_string="")
        outputs += [_out("label", TensorProto.STRING, ["batch"], "string [batch]: the most probable label"),
                    _out("probs", TensorProto.FLOAT, ["batch", len(labels)], "float32 [batch, labels]: label probabilities"),
                    _out("ids", TensorProto.INT64, ["batch", "time"], "int64 [batch, time]: vocabulary ids (0 padding, 1 unknown)")]

    graph = helper.make_graph(
        g.nodes + list(body.node) + post.nodes,
        "rnnx_rawtext" if raw_text else "rnnx_text",
        [graph_input],
        outputs,
        initializer=g.inits + list(body.initializer) + post.inits,
        value_info=list(body.value_info),
    )
    graph.sparse_initializer.extend(body.sparse_initializer)
    ml = max(ML_OPSET, opset_version(inner, "ai.onnx.ml"))
    imports = {o.domain: o.version for o in inner.opset_import}
    imports.update({"": opset, "ai.onnx.ml": ml})
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(imports.items())])
    model.functions.extend(inner.functions)
    model.ir_version = RAWTEXT_IR if raw_text else max(TEXT_IR, min_ir_version(opset))
    model.producer_name = "rnnx"
    meta = dict(metadata or {})
    meta.update({
        "input": graph_input.doc_string,
        "text_model": {"normalisation": "StringNormalizer LOWER locale C + case spellings" if vocab.lowercase else "none",
                       "opset": opset, "ai.onnx.ml": ml, "ir_version": model.ir_version,
                       "min_onnxruntime": MIN_ORT.get(opset, "1.17"), "lookup": lookup_stats},
    })
    write_metadata(model, meta)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError(f"the text model fails the ONNX checker: {exc}") from None
    return model


def _out(name, dtype, shape, doc):
    from onnx import helper

    info = helper.make_tensor_value_info(name, dtype, shape)
    info.doc_string = doc
    return info


# --------------------------------------------------------------------------- files


def write_text_models(folder: Path | str, *, source: str = "model.onnx", raw: bool | None = None) -> dict:
    """Write ``model.text.onnx`` (and, for classifiers, ``model.rawtext.onnx``) beside ``source``.

    ``raw=None`` writes the raw-text model for classifiers only. Returns, per
    written file: opsets, IR version, size, inputs and outputs.
    """
    import onnx

    from pipeline.artifacts import atomic_path, read_json
    from pipeline.data.vocab import Labels
    from pipeline.export.contract import read_metadata

    folder = Path(folder)
    info = read_json(folder / "export.json")
    vocab = Vocabulary.from_json(read_json(folder / "vocab.json"))
    labels = Labels.from_json(read_json(folder / "labels.json")).names
    path = folder / source
    if not path.exists():
        raise ExportError(f"{path} is missing; run `rnnx export` first")
    id_model = onnx.load(path)
    task = info["task"]
    variants = [False] + ([True] if (raw if raw is not None else task == "classification") else [])
    written = {}
    for is_raw in variants:
        meta = read_metadata(id_model)
        meta["source_model"] = source
        meta["tokenizer"] = tokenizer_convention(info)
        model = build_text_model(id_model, vocab, labels, task, raw_text=is_raw, metadata=meta)
        name = text_file_name(source, is_raw)
        with atomic_path(folder / name) as tmp:
            onnx.save(model, tmp)
        written[name] = describe(model, folder / name)
        written[name]["lookup"] = read_metadata(model)["text_model"]["lookup"]
    return written


def tokenizer_convention(info: dict) -> dict:
    """How raw text must be tokenised for this model (recorded in the text model's metadata).

    The exporter records it in ``export.json`` from the training vocabulary (Brown
    keeps contractions whole, ``don't``; Penn/UD-style data splits them, ``do n't``).

    >>> tokenizer_convention({"tokenizer": {"contractions": False}})["contractions"]
    False
    """
    contractions = bool((info.get("tokenizer") or {}).get("contractions", True))
    return {"function": "pipeline.data.tokenize.tokenize", "contractions": contractions}


def describe(model, path: Path | None = None) -> dict:
    """Opsets, IR version, size, inputs and outputs of a model (for deploy.json and the model card)."""
    from onnx import TensorProto

    def io(values):
        out = []
        for v in values:
            t = v.type.tensor_type
            dims = [d.dim_param or d.dim_value for d in t.shape.dim]
            out.append({"name": v.name, "dtype": TensorProto.DataType.Name(t.elem_type).lower(), "shape": dims,
                        "doc": v.doc_string})
        return out

    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    return {
        "ir_version": model.ir_version,
        "opsets": opsets,
        "min_onnxruntime": MIN_ORT.get(opsets.get("ai.onnx", 0), "1.17"),
        "bytes": path.stat().st_size if path is not None and path.exists() else model.ByteSize(),
        "inputs": io(model.graph.input),
        "outputs": io(model.graph.output),
    }
