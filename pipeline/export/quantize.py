"""``rnnx export --quantize int8``: ONNX Runtime dynamic quantization.

:func:`quantize_model` writes ``model.int8.onnx`` with
``onnxruntime.quantization.quantize_dynamic`` (int8 weights, activations
quantized on the fly). ONNX Runtime quantizes ``LSTM`` (to
``DynamicQuantizeLSTM``), ``MatMul`` (to ``MatMulInteger``) and ``Gather`` (the
embedding table); ``GRU`` and ``RNN`` (SimpleRNN) ops have no int8 kernel and stay
float32. The report counts, by op type, what was quantized and what stayed float.

:mod:`pipeline.check.int8` proves the result (accuracy within 0.5 points of
float32 on the held-out split) and times it.

Example::

    quantize_model("export/pos")          # -> {"file": "model.int8.onnx", "bytes": ..., "quantized": {...}}
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path

from pipeline.errors import ExportError

INT8_FILE = "model.int8.onnx"
OP_TYPES = ("LSTM", "MatMul", "Gather")
QUANTIZED_FORMS = {"MatMulInteger": "MatMul", "DynamicQuantizeLSTM": "LSTM", "QLinearMatMul": "MatMul"}
NOT_QUANTIZABLE = ("GRU", "RNN")


def count_ops(graph, counts: collections.Counter | None = None) -> collections.Counter:
    """Op types in ``graph`` and all its subgraphs (``Loop`` bodies).

    >>> from onnx import helper
    >>> g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "g", [], [])
    >>> dict(count_ops(g))
    {'MatMul': 1}
    """
    import onnx

    counts = counts if counts is not None else collections.Counter()
    for node in graph.node:
        counts[node.op_type] += 1
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                count_ops(attr.g, counts)
            for sub in attr.graphs:
                count_ops(sub, counts)
    return counts


def _quantized_gathers(graph) -> int:
    """Gather nodes whose table is an int8/uint8 initializer (the quantized embedding)."""
    from onnx import TensorProto

    ints = {t.name for t in graph.initializer if t.data_type in (TensorProto.INT8, TensorProto.UINT8)}
    return sum(1 for n in graph.node if n.op_type == "Gather" and n.input and n.input[0] in ints)


def quantize_model(folder: Path | str, *, source: str = "model.onnx", target: str = INT8_FILE) -> dict:
    """Write ``target`` (int8 dynamic quantization of ``source``) and return what changed."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from pipeline.artifacts import atomic_path
    from pipeline.export.contract import read_metadata, write_metadata

    folder = Path(folder)
    src = folder / source
    if not src.exists():
        raise ExportError(f"{src} is missing; run `rnnx export` before quantizing")
    original = onnx.load(src)
    with atomic_path(folder / target) as tmp:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantizer logs a pre-processing advice banner as a warning
        try:
            quantize_dynamic(src, tmp, weight_type=QuantType.QInt8, op_types_to_quantize=list(OP_TYPES))
        finally:
            root.setLevel(level)
        model = onnx.load(tmp)
        rewritten = dequantize_gathers_arithmetically(model.graph)
        model.ir_version = original.ir_version  # the quantizer may raise it; keep what older runtimes load
        model.producer_name = "rnnx"
        meta = read_metadata(original)
        meta["quantization"] = {"method": "onnxruntime dynamic", "weights": "int8", "op_types": list(OP_TYPES)}
        write_metadata(model, meta)
        try:
            onnx.checker.check_model(model)
        except Exception as exc:
            raise ExportError(f"the int8 model fails the ONNX checker: {exc}") from None
        onnx.save(model, tmp)
        _assert_loads(tmp)
    before, after = count_ops(original.graph), count_ops(model.graph)
    quantized = {"MatMul": after["MatMulInteger"] + after["QLinearMatMul"], "LSTM": after["DynamicQuantizeLSTM"],
                 "Gather": _quantized_gathers(model.graph)}
    float_left = {op: after[op] for op in ("MatMul", "LSTM", "GRU", "RNN") if after[op]}
    notes = []
    for op in NOT_QUANTIZABLE:
        if before[op]:
            notes.append(f"{before[op]} {op} op(s) stay float32: ONNX Runtime has no dynamic int8 {op} kernel")
    if before["Loop"]:
        notes.append(f"recurrences exported as Loop subgraphs ({before['Loop']}): their MatMuls are quantized "
                     "where the quantizer reaches them, the rest of the cell math stays float32")
    return {
        "file": target,
        "source": source,
        "bytes": (folder / target).stat().st_size,
        "float_bytes": src.stat().st_size,
        "size_ratio": (folder / target).stat().st_size / src.stat().st_size,
        "quantized": quantized,
        "float_left": float_left,
        "ops_float32_model": dict(sorted(before.items())),
        "ops_int8_model": dict(sorted(after.items())),
        "notes": notes,
        "gather_dequantize_rewritten": rewritten,
        "ir_version": model.ir_version,
        "opsets": {(o.domain or "ai.onnx"): o.version for o in model.opset_import},
    }


def dequantize_gathers_arithmetically(graph) -> int:
    """Replace ``Gather(int8 table) -> DequantizeLinear`` by ``Cast -> Sub(zero point) -> Mul(scale)``.

    ONNX Runtime 1.32's ``QDQPropagationTransformer`` (on at every optimisation
    level from basic up) aborts the process on the ``DequantizeLinear`` that
    ``quantize_dynamic`` puts after a quantized embedding ``Gather``. The
    arithmetic form computes the same values (bit for bit here) and is never
    propagated. Returns the number of nodes rewritten.
    """
    from onnx import TensorProto, helper

    gathered = {o for n in graph.node if n.op_type == "Gather" for o in n.output}
    nodes, rewritten = [], 0
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in gathered or len(node.input) < 2:
            nodes.append(node)
            continue
        x, scale = node.input[0], node.input[1]
        y = node.output[0]
        value = y + "/float"
        nodes.append(helper.make_node("Cast", [x], [value], name=node.name + "/cast", to=TensorProto.FLOAT))
        if len(node.input) > 2 and node.input[2]:
            zero = y + "/zero_point"
            nodes.append(helper.make_node("Cast", [node.input[2]], [zero], name=node.name + "/cast_zp",
                                          to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Sub", [value, zero], [y + "/centred"], name=node.name + "/sub"))
            value = y + "/centred"
        nodes.append(helper.make_node("Mul", [value, scale], [y], name=node.name + "/scale"))
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def _assert_loads(path: Path) -> None:
    """Load ``path`` with ONNX Runtime's default optimisations in a child process.

    An optimiser bug aborts the process instead of raising, so the first load is
    done where an abort cannot take rnnx down with it.
    """
    import subprocess
    import sys

    code = ("import sys, onnxruntime as ort\n"
            "ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-800:]
        raise ExportError(f"ONNX Runtime cannot load the int8 model (exit {result.returncode}): {tail}\n"
                          "export without --quantize, or report the model to the rnnx maintainers")
