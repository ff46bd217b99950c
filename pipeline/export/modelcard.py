"""The model card ``export/NAME/README.md``, written from the reports beside the model.

It reads ``export.json`` (what was exported), ``parity.json`` (``rnnx check``),
``bench.json`` (``rnnx bench``) and ``deploy.json`` (text, int8 and ORT-format
variants); sections whose report is missing say which command fills them. It also
runs ``model.text.onnx`` once on an example sentence, so the usage section shows
real output.

Sections: task and model, data and split, accuracy, parity, latency, files
(size, IR version, opsets, oldest ONNX Runtime), inputs and outputs with shapes
and padding rules, usage from Python and JavaScript.

Example::

    write_model_card("export/pos")      # -> Path("export/pos/README.md")
"""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLES = {"tagging": ["They", "are", "early", "birds", "."],
            "classification": ["A", "gorgeous", ",", "moving", "film", "."]}


def _load(folder: Path, name: str) -> dict:
    path = folder / name
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}


def _table(head: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _pct(x) -> str:
    return f"{100 * x:.2f}%" if isinstance(x, (int, float)) else "-"


def write_model_card(folder: Path | str) -> Path:
    """Write ``folder/README.md`` and return its path."""
    from pipeline.artifacts import write_text

    folder = Path(folder)
    text = render_model_card(folder)
    path = folder / "README.md"
    write_text(path, text)
    return path


def render_model_card(folder: Path) -> str:
    info = _load(folder, "export.json")
    if not info:
        from pipeline.errors import RnnxError

        raise RnnxError(f"{folder / 'export.json'} is missing; the model card is written for an `rnnx export` folder")
    parity, bench, deploy = _load(folder, "parity.json"), _load(folder, "bench.json"), _load(folder, "deploy.json")
    name, task = info.get("name", folder.name), info["task"]
    lines = [f"# {name}", ""]
    lines += _model_section(info)
    lines += _data_section(info, parity)
    parity = {k: parity[k] for k in sorted(parity, key=lambda k: (k != "model.onnx", k)) if (folder / k).exists()}
    lines += _accuracy_section(parity)
    lines += _parity_section(parity)
    lines += _latency_section(bench)
    lines += _nltk_section(_load(folder, "runtime_vs_nltk.json"))
    lines += _files_section(folder, info, deploy)
    lines += _io_section(info, deploy)
    lines += _usage_section(folder, name, task, deploy)
    return "\n".join(lines).rstrip() + "\n"


def _model_section(info: dict) -> list[str]:
    model = info.get("model", {})
    try:
        from pipeline.models.config import ModelConfig

        title = ModelConfig(**model).describe()
    except Exception:  # an older or foreign export.json: fall back to the raw fields
        title = f"{model.get('cell', '?')} {info['task']}"
    task_line = ("one label per token (sequence tagging)" if info["task"] == "tagging"
                 else "one label per text (classification)")
    return [f"**{title}**: {task_line}.", "",
            f"Exported by rnnx from `{info.get('source_run_name') or info.get('source_run', '?')}` with the `{info.get('engine', '?')}` engine.", ""]


def _data_section(info: dict, parity: dict) -> list[str]:
    data = (info.get("data") or {}).get("data")
    lines = ["## Data and split", ""]
    if data:
        lines.append(f"Trained on `{data}`.")
        try:
            from pipeline.data.datasets import DATASETS

            ds = DATASETS.get(data)
            if ds is not None:
                lines += ["", f"{ds.description}. Source: {ds.source}.", "", f"Split: {ds.split_rule}",
                          "", f"Citation: {ds.citation}."]
        except Exception:  # the data registry is optional for the card
            pass
    held = (parity.get("model.onnx") or {}).get("heldout") or {}
    if held:
        lines += ["", f"Held-out split used for the checks below: {held.get('split')} "
                      f"({held.get('sequences')} sequences, {held.get('positions')} labelled positions)."]
    return lines + [""]


def _accuracy_section(parity: dict) -> list[str]:
    lines = ["## Accuracy (held-out split)", ""]
    rows = []
    base = (parity.get("model.onnx") or {}).get("heldout", {}).get("accuracy", {})
    for runtime, acc in base.items():
        rows.append([f"model.onnx ({runtime})", _pct(acc)])
    q = parity.get("model.int8.onnx") or {}
    if q:
        rows.append(["model.int8.onnx (onnxruntime)", _pct(q["accuracy"]["int8"])])
    for name, rep in parity.items():
        acc = (rep.get("heldout") or {}).get("accuracy", {})
        if "text_model" in acc:
            rows.append([f"{name} (onnxruntime)", _pct(acc["text_model"])])
    if not rows:
        return lines + ["Not measured yet: run `rnnx check` on this folder.", ""]
    lines += _table(["model", "accuracy"], rows)
    if q:
        lines += [f"int8 minus float32: {-q['accuracy_drop_points']:+.2f} accuracy points (allowed drop {q['max_drop_points']}), "
                  f"label agreement {_pct(q['label_agreement'])}.", ""]
    return lines


def _parity_section(parity: dict) -> list[str]:
    lines = ["## Parity", ""]
    if not parity:
        return lines + ["Not checked yet: run `rnnx check` on this folder.", ""]
    rows = []
    for name, rep in parity.items():
        if "heldout" in rep and "max_abs_diff" in rep.get("heldout", {}):
            held = rep["heldout"]
            agree = held.get("label_agreement")
            if agree is None and "label_mismatches" in held:
                agree = 1 - held["label_mismatches"] / max(held.get("positions", 1), 1)
            tol = rep.get("tolerance", {}).get("atol")
            rows.append([name, rep.get("reference", "Keras"), f"{held['max_abs_diff']:.2g}", f"{tol:g}" if tol else "-",
                         _pct(agree), "yes" if rep.get("passed") else "NO"])
        elif "joined" in rep:
            joined = rep["joined"]
            rows.append([name, rep.get("reference"), f"{joined['max_abs_diff']:.2g}", "1e-06",
                         _pct(1 - joined["label_mismatches"] / max(joined["positions"], 1)),
                         "yes" if rep.get("passed") else "NO"])
        elif "label_agreement" in rep:
            rows.append([name, rep.get("reference"), f"{rep['max_abs_prob_diff']:.2g}", "accuracy drop <= 0.5 pt",
                         _pct(rep["label_agreement"]), "yes" if rep.get("passed") else "NO"])
    lines += _table(["model", "compared with", "max abs prob diff", "tolerance", "label agreement", "passed"], rows)
    raw = (parity.get("model.rawtext.onnx") or {}).get("raw_text") or {}
    if raw.get("measured"):
        lines += [f"`model.rawtext.onnx` on the untokenised texts (split on spaces in the graph): label agreement "
                  f"with the tokenised path {_pct(raw['label_agreement_with_tokenized'])}, accuracy "
                  f"{_pct(raw['accuracy_raw_text'])} vs {_pct(raw['accuracy_tokenized'])} tokenised.", ""]
    return lines


def _latency_section(bench: dict) -> list[str]:
    lines = ["## Latency (ONNX Runtime, CPU)", ""]
    main = bench.get("model.onnx")
    if not main:
        return lines + ["Not measured yet: run `rnnx bench` on this folder.", ""]
    runners = [k for k, v in main["rows"][0].items() if isinstance(v, dict)]
    rows = [[r["batch"], r["length"], r["tokens_per_row"], *(f"{r[k]['p50_ms']:.2f}" for k in runners),
             f"{r.get('ort-1t', {}).get('tokens_per_s', 0):,.0f}"] for r in main["rows"]]
    lines += [f"p50 latency in ms; {main.get('cpu_count')} CPU cores; versions {main.get('versions', {})}.", ""]
    lines += _table(["batch", "length", "tokens/row", *runners, "ORT 1-thread tokens/s"], rows)
    q = bench.get("model.int8.onnx")
    if q:
        lines += ["int8 vs float32 (ONNX Runtime, 1 thread, median-length sentences):", ""]
        lines += _table(["batch", "float32 p50 ms", "int8 p50 ms", "int8 speed-up"],
                        [[r["batch"], f"{r['float32-ort-1t']['p50_ms']:.2f}", f"{r['int8-ort-1t']['p50_ms']:.2f}",
                          f"{r['int8_speedup_p50']:.2f}x"] for r in q["rows"]])
        lines += [f"Size: {_size(q['bytes'][q['reference']])} float32 -> {_size(q['bytes'][q['model_file']])} int8 "
                  f"({q['size_ratio']:.2f}x).", ""]
    return lines


def _nltk_section(report: dict) -> list[str]:
    """End-to-end tagging throughput from ``benchmarks/runtime_vs_nltk.py``, when it was run."""
    if not report.get("rows"):
        return []
    lines = ["## Throughput against NLTK", "",
             f"{report['split']}, end to end from tokens, ONNX Runtime with 1 thread, batch {report['batch_size']} "
             "(`benchmarks/runtime_vs_nltk.py`):", ""]
    rows = [[r["tagger"], f"{r['tokens_per_s']:,.0f}", _pct(r["accuracy"]),
             f"{r['vs_nltk']:.2f}x" if r.get("vs_nltk") else "-"] for r in report["rows"]]
    return lines + _table(["tagger", "tokens/s", "accuracy", "vs NLTK"], rows)


def _files_section(folder: Path, info: dict, deploy: dict) -> list[str]:
    lines = ["## Files", ""]
    artifacts = dict(deploy.get("artifacts") or {})
    if "model.onnx" not in artifacts:
        artifacts["model.onnx"] = {"ir_version": info.get("ir_version"), "opsets": {"ai.onnx": info.get("opset")},
                                   "role": "float32; input: token ids", "min_onnxruntime": "1.16"}
    rows = []
    for name, a in artifacts.items():
        if not (folder / name).exists():
            continue
        opsets = ", ".join(f"{d} {v}" for d, v in (a.get("opsets") or {}).items())
        rows.append([f"`{name}`", a.get("role", ""), _size((folder / name).stat().st_size), a.get("ir_version", "-"),
                     opsets, a.get("min_onnxruntime", "-") + "+"])
    lines += _table(["file", "what", "size", "IR", "opsets", "ONNX Runtime"], rows)
    lines += ["Also: `vocab.json` (index = id; 0 padding, 1 unknown), `labels.json`, `export.json`, and the reports "
              "`parity.json`, `bench.json`, `deploy.json`."]
    q = deploy.get("quantization")
    if q:
        quantized = ", ".join(f"{n} {op}" for op, n in q["quantized"].items() if n) or "nothing"
        left = ", ".join(f"{n} {op}" for op, n in q.get("float_left", {}).items()) or "none"
        lines += ["", f"int8: quantized {quantized}; left in float32: {left}. " + " ".join(q.get("notes", []))]
    ort = deploy.get("ort")
    if ort:
        lines += ["", f"ORT format written by onnxruntime {ort['onnxruntime']} (loads in that version or newer); "
                      f"`{ort['required_operators_config']}` lists the operators for a reduced build."]
        for name, verdict in (ort.get("mobile_usability") or {}).items():
            lines.append(f"Mobile usability checker on `{name}`: {verdict['verdict']}")
    return lines + [""]


def _io_section(info: dict, deploy: dict) -> list[str]:
    lines = ["## Inputs and outputs", ""]
    artifacts = deploy.get("artifacts") or {}
    shown = [n for n in ("model.onnx", "model.text.onnx", "model.rawtext.onnx") if n in artifacts]
    if "model.onnx" not in shown:
        lines += [f"`model.onnx`: input `{info['input']['name']}` {info['input']['dtype']} "
                  f"{info['input']['shape']} ({info['input']['padding']}); output `{info['output']['name']}` "
                  f"{info['output']['dtype']} {info['output']['shape']}.", ""]
    for name in shown:
        a = artifacts[name]
        rows = [[kind, f"`{v['name']}`", v["dtype"], "[" + ", ".join(_dims(v["shape"], kind, info)) + "]",
                 v.get("doc", "")]
                for kind, vs in (("input", a["inputs"]), ("output", a["outputs"])) for v in vs]
        lines += [f"`{name}`:", ""] + _table(["", "name", "type", "shape", "meaning"], rows)
    lines += ["Padding: rows are right-padded (id 0 / empty string `\"\"`); padded positions carry no meaning "
              "(tags there are `\"\"`). Id 1 is the unknown word. The text models lowercase tokens inside the graph "
              "exactly as training did when the vocabulary is lowercased.", ""]
    return lines


def _dims(shape: list, kind: str, info: dict) -> list[str]:
    """Shape entries for people: converter-made names (``unk__12``) become batch/time/labels."""
    named = info.get(kind, {}).get("shape", []) if kind in ("input", "output") else []
    return [str(named[i]) if str(d).startswith("unk__") and i < len(named) else str(d) for i, d in enumerate(shape)]


def _example_output(folder: Path, task: str):
    try:
        from pipeline.runtime.text import TextModel

        model = TextModel(folder / "model.text.onnx")
        return model.predict_tokens([EXAMPLES[task]])[0]
    except Exception:  # the card is still useful without the example
        return None


def _usage_section(folder: Path, name: str, task: str, deploy: dict) -> list[str]:
    tokens = EXAMPLES[task]
    has_text = (folder / "model.text.onnx").exists()
    out = _example_output(folder, task) if has_text else None
    lines = ["## Usage", "", "Python, with rnnx's runtime (numpy and onnxruntime only):", "", "```python"]
    if task == "tagging":
        lines += ["from pipeline.runtime.session import Tagger", f'tagger = Tagger.load("export/{name}")',
                  f'tagger.predict_tokens([{tokens!r}])']
    else:
        lines += ["from pipeline.runtime.session import Classifier", f'clf = Classifier.load("export/{name}")',
                  f'clf.predict_tokens([{tokens!r}])']
    lines += ["```", ""]
    if has_text:
        outputs = "tags, probs, ids" if task == "tagging" else "label, probs, ids"
        lines += ["Python, with onnxruntime alone and the self-contained model:", "", "```python",
                  "import numpy as np, onnxruntime as ort",
                  f'sess = ort.InferenceSession("export/{name}/model.text.onnx")',
                  f'{outputs} = sess.run(None, {{"tokens": np.array([{tokens!r}], dtype=object)}})',
                  "```", ""]
        if out is not None:
            shown = out if task == "tagging" else out[0]
            lines += [f"gives `{shown}` for `{' '.join(tokens)}`.", ""]
        lines += ["JavaScript (Node.js, `onnxruntime-node`; see `examples/node/`):", "", "```sh",
                  "cd examples/node && npm install --ignore-scripts",
                  f"echo '[{json.dumps(tokens)}]' | node tag.js ../../export/{name}/model.text.onnx",
                  "```", ""]
    else:
        lines += ["No `model.text.onnx` here: re-export without turning text models off to get a model that "
                  "takes strings.", ""]
    return lines
