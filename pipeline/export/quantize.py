"""``rnnx export --quantize int8``: ONNX Runtime dynamic quantization, checked and timed.

:func:`quantize_model` writes ``model.int8.onnx`` with
``onnxruntime.quantization.quantize_dynamic`` (int8 weights, activations
quantized on the fly). ONNX Runtime quantizes ``LSTM`` (to
``DynamicQuantizeLSTM``), ``MatMul`` (to ``MatMulInteger``) and ``Gather`` (the
embedding table); ``GRU`` and ``RNN`` (SimpleRNN) ops have no int8 kernel and stay
float32. The report counts, by op type, what was quantized and what stayed float.

An int8 model is not expected to match float32 to 1e-4, so
:func:`check_quantized` compares **accuracy** on the held-out split: it fails
when int8 loses more than :data:`MAX_DROP_POINTS` accuracy points against the
float model, and reports how often the two predict the same label.
:func:`bench_quantized` times both on ONNX Runtime with 1 thread, batch 1 and 32.

Example::

    quantize_model("export/pos")          # -> {"file": "model.int8.onnx", "bytes": ..., "quantized": {...}}
    check_quantized("export/pos")["accuracy"]   # {"float32": 0.962, "int8": 0.960}
    bench_quantized("export/pos")["rows"][0]["int8-ort-1t"]["p50_ms"]
"""

from __future__ import annotations

import collections
import json
import logging
import os
from pathlib import Path

import numpy as np

from pipeline.errors import ExportError, ParityError

INT8_FILE = "model.int8.onnx"
OP_TYPES = ("LSTM", "MatMul", "Gather")
MAX_DROP_POINTS = 0.5
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
    from pipeline.export.contract import read_metadata

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
        del model.metadata_props[:]
        for key, value in sorted(meta.items()):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
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


def _accuracy(probs: list[np.ndarray], gold: list, names: list[str], task: str) -> tuple[float, list]:
    from pipeline.scoring.accuracy import accuracy
    from pipeline.scoring.decode import argmax_labels

    pred = argmax_labels(probs, names, task)
    return accuracy(gold, pred, task=task), pred


def check_quantized(folder: Path | str, *, int8_file: str = INT8_FILE, float_file: str = "model.onnx",
                    max_drop_points: float = MAX_DROP_POINTS, run_path=None, limit: int | None = None,
                    write: bool = True) -> dict:
    """Held-out accuracy of ``int8_file`` against ``float_file``; fails beyond ``max_drop_points``.

    Writes ``parity.json[int8_file]``; raises :class:`~pipeline.errors.ParityError` on failure.
    """
    from pipeline.artifacts import read_json, update_json
    from pipeline.export.parity import heldout_split
    from pipeline.export.parity_keras import find_run
    from pipeline.runtime.batches import run_batched
    from pipeline.runtime.session import ExportedModel

    folder = Path(folder)
    info = read_json(folder / "export.json")
    task = info["task"]
    split_name, split = heldout_split(find_run(info, run_path))
    if limit:
        split = split.head(limit)
    keep = [i for i, t in enumerate(split.tokens) if len(t) > 0]
    split = split.subset(keep)
    ref_model = ExportedModel(folder, model_file=float_file)
    q_model = ExportedModel(folder, model_file=int8_file)
    ids = [ref_model.vocab.encode(t) for t in split.tokens]
    names = ref_model.labels.names
    out = {}
    for label, model in (("float32", ref_model), ("int8", q_model)):
        probs = run_batched(model.run_ids, ids, task=task, batch_size=32)
        out[label] = (probs, *_accuracy(probs, split.labels, names, task))
    (p_f, acc_f, pred_f), (p_q, acc_q, pred_q) = out["float32"], out["int8"]
    flat_f = [x for p in pred_f for x in p] if task == "tagging" else pred_f
    flat_q = [x for p in pred_q for x in p] if task == "tagging" else pred_q
    agreement = sum(a == b for a, b in zip(flat_f, flat_q)) / max(len(flat_f), 1)
    max_diff = max((float(np.abs(a - b).max()) for a, b in zip(p_f, p_q) if a.size), default=0.0)
    drop = (acc_f - acc_q) * 100
    failures = []
    if drop > max_drop_points:
        failures.append(f"int8 accuracy {acc_q:.4f} is {drop:.2f} points below float32 {acc_f:.4f} "
                        f"(allowed: {max_drop_points}); keep the float model or quantize fewer op types")
    report = {
        "model_file": int8_file, "reference": float_file, "task": task, "kind": "accuracy (int8)",
        "heldout": {"split": f"{split_name}: {split.source}", "sequences": len(split), "positions": len(flat_f)},
        "accuracy": {"float32": acc_f, "int8": acc_q}, "accuracy_drop_points": drop,
        "max_drop_points": max_drop_points, "label_agreement": agreement, "max_abs_prob_diff": max_diff,
        "passed": not failures, "failures": failures,
    }
    if write:
        update_json(folder / "parity.json", int8_file, report)
    if failures:
        raise ParityError(f"{folder / int8_file}: " + "; ".join(failures))
    return report


def bench_quantized(folder: Path | str, *, int8_file: str = INT8_FILE, float_file: str = "model.onnx",
                    batch_sizes=(1, 32), budget_s: float = 0.5, run_path=None, write: bool = True) -> dict:
    """Latency (1 ORT thread) and size of int8 vs float32 on median-length held-out sentences.

    The report has the shape of :func:`pipeline.export.bench.bench_export`'s (``rows``
    with one entry per runner), so :func:`~pipeline.export.bench.format_bench` prints it;
    it is stored as ``bench.json[int8_file]``.
    """
    from pipeline.artifacts import read_json, update_json
    from pipeline.export.bench import latency_stats, pick_batch, time_calls
    from pipeline.export.parity import heldout_split
    from pipeline.export.parity_keras import find_run
    from pipeline.runtime.batches import pad_batch
    from pipeline.runtime.session import ExportedModel

    folder = Path(folder)
    info = read_json(folder / "export.json")
    _, split = heldout_split(find_run(info, run_path))
    models = {"float32-ort-1t": ExportedModel(folder, model_file=float_file, threads=1),
              "int8-ort-1t": ExportedModel(folder, model_file=int8_file, threads=1)}
    vocab = models["float32-ort-1t"].vocab
    ids = [vocab.encode(t) for t in split.tokens]
    lengths = [len(s) for s in ids]
    target = int(np.percentile(lengths, 50))
    rows = []
    for batch in batch_sizes:
        idx = pick_batch(lengths, target, batch)
        x = pad_batch([ids[i] for i in idx])
        tokens = int(sum(lengths[i] for i in idx))
        row = {"batch": batch, "length": "median", "tokens_per_row": target, "padded_shape": list(x.shape)}
        for label, model in models.items():
            row[label] = latency_stats(time_calls(lambda m=model: m.run_ids(x), budget_s=budget_s), tokens)
        row["int8_speedup_p50"] = row["float32-ort-1t"]["p50_ms"] / row["int8-ort-1t"]["p50_ms"]
        rows.append(row)
    sizes = {float_file: (folder / float_file).stat().st_size, int8_file: (folder / int8_file).stat().st_size}
    report = {
        "model_file": int8_file, "reference": float_file, "engine": info.get("engine"), "task": info["task"],
        "cpu_count": os.cpu_count(), "threads": 1, "rows": rows, "bytes": sizes,
        "size_ratio": sizes[int8_file] / sizes[float_file],
    }
    if write:
        update_json(folder / "bench.json", int8_file, report)
    return report
