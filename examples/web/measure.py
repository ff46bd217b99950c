"""Run the page in headless Chromium on held-out sentences and compare it with Python's runtime.

Serves ``EXPORT`` with :mod:`pipeline.runtime.web` (as ``rnnx web`` does), drives the page with
``browser_test.mjs`` (puppeteer-core, Debian's ``chromium``), runs the same texts through
:class:`pipeline.runtime.text.TextModel` on the same model file, and prints, per variant: the
sentences compared, how many differ, load time, per-sentence and per-keystroke latency in the
browser, download size and held-out accuracy. ``tests/test_web_browser.py`` uses these functions.

    .venv/bin/python examples/web/measure.py export/pos --sentences 300 \\
        --screenshot examples/web/screenshot.png --json /tmp/web.json

Needs: ``apt-get install -y chromium`` and ``npm`` (the page's node_modules are installed with
``npm ci --ignore-scripts`` on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "browser_test.mjs"
CHROMIUM_INSTALL = "apt-get install -y chromium"


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


def drive(url: str, texts: list[str], *, variants: list[str], keystrokes: int = 20,
          screenshot: Path | None = None, screenshot_text: str = "") -> dict:
    """``browser_test.mjs`` on ``texts`` for each variant: its JSON report."""
    from pipeline.errors import RnnxError

    node = shutil.which("node")
    if node is None:
        raise RnnxError("node is not installed (apt-get install -y nodejs npm)")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "sentences.json", Path(tmp) / "report.json"  # the driver runs in examples/web
        src.write_text(json.dumps(texts), encoding="utf-8")
        cmd = [node, str(DRIVER), "--url", url, "--sentences", str(src), "--out", str(out),
               "--variants", ",".join(variants), "--keystrokes", str(keystrokes)]
        if screenshot:
            cmd += ["--screenshot", str(Path(screenshot).resolve()), "--screenshot-text", screenshot_text or texts[0]]
        env = {**os.environ, "CHROMIUM": chromium_path() or "/usr/bin/chromium"}
        res = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=900, env=env)
        if res.returncode != 0:
            raise RnnxError(f"browser_test.mjs failed ({res.returncode}):\n{res.stderr[-3000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def python_side(folder: Path, file: str, texts: list[str]) -> list[dict]:
    """The same texts through pipeline.runtime's TextModel on the same file (its own tokeniser).

    One text per call, as the page runs them: an int8 model quantizes its activations with a
    scale taken from the whole batch, so batching texts together changes int8 answers.
    """
    from pipeline.data.tokenize import tokenize
    from pipeline.runtime.text import TextModel

    if file == "model.stream.onnx":
        return _python_stream(folder, texts)
    model = TextModel(folder / file, threads=1)
    contractions = bool(model.tokenizer.get("contractions", True))
    tokens = [tokenize(t, contractions=contractions) for t in texts]
    out = []
    for toks, r in zip(tokens, (model.run_tokens([t], batch_size=1)[0] for t in tokens)):
        if model.task == "tagging":
            tags = [str(t) for t in r["tags"].tolist()]
            probs = [float(r["probs"][i, model.labels.index(tag)]) for i, tag in enumerate(tags)]
            out.append({"tokens": toks, "tags": tags, "probs": probs})
        else:
            out.append({"tokens": toks, "label": str(r["label"]), "probs": [float(p) for p in r["probs"]]})
    return out


def _python_stream(folder: Path, texts: list[str]) -> list[dict]:
    """pipeline.runtime.stream.TagStream, one token per push (as the page pushes a typed sentence)."""
    from pipeline.runtime.stream import TagStream

    tagger = TagStream(folder, threads=1)
    out = []
    for text in texts:
        tokens = tagger.model.tokenize(text)
        tagger.reset()
        triples = [tagger.push([t], with_probs=True)[0] for t in tokens]
        out.append({"tokens": tokens, "tags": [t[1] for t in triples], "probs": [t[2] for t in triples]})
    return out


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(x for x in xs if x is not None)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def compare(folder: Path, report: dict, texts: list[str], gold: list[list[str]] | None = None) -> dict:
    """Per variant: agreement with Python, latency, size and (with ``gold`` tags) accuracy."""
    summary = {}
    for file, rep in report["variants"].items():
        py = python_side(folder, file, texts)
        tagging = "tags" in py[0]
        differ, positions, label_diff, max_diff = [], 0, 0, 0.0
        correct = scored = 0
        for i, (b, p) in enumerate(zip(rep["results"], py)):
            if b["tokens"] != p["tokens"]:
                differ.append(i)
                continue
            if tagging:
                positions += len(p["tags"])
                bad = sum(x != y for x, y in zip(b["tags"], p["tags"]))
                label_diff += bad
                if bad:
                    differ.append(i)
                max_diff = max([max_diff] + [abs(x - y) for x, y in zip(b["probs"], p["probs"])])
                if gold is not None and len(gold[i]) == len(p["tags"]):
                    correct += sum(x == y for x, y in zip(b["tags"], gold[i]))
                    scored += len(gold[i])
            else:
                positions += 1
                if b["label"] != p["label"]:
                    label_diff += 1
                    differ.append(i)
                max_diff = max([max_diff] + [abs(x - y) for x, y in zip(b["label_probs"], p["probs"])])
                if gold is not None:
                    correct += int(b["label"] == gold[i])
                    scored += 1
        typed = [r for r in rep["results"] if not r["keystroke"]]
        keys = rep["runs"]
        summary[file] = {
            "sentences": len(texts), "sentences_differing": len(differ), "first_differing": differ[:5],
            "labels_compared": positions, "label_mismatches": label_diff, "max_abs_prob_diff": max_diff,
            "bytes": rep["load"]["bytes"], "load_ms": rep["load"]["page_to_ready_ms"],
            "session_create_ms": rep["load"]["session_create_ms"], "model_fetch_ms": rep["load"]["model_fetch_ms"],
            "sentence_model_ms_median": statistics.median(r["model_ms"] for r in typed) if typed else None,
            "sentence_model_ms_p90": _pct([r["model_ms"] for r in typed], 0.9),
            "sentence_total_ms_median": statistics.median(r["total_ms"] for r in typed) if typed else None,
            "keystroke_runs": sum(r["runs"] for r in rep["results"] if r["keystroke"]),
            "keystroke_steps_per_run": (sum(r["steps"] for r in rep["results"] if r["keystroke"]) /
                                        max(1, sum(r["runs"] for r in rep["results"] if r["keystroke"]))),
            "keystroke_tokens_per_run": (sum(r["run_tokens"] for r in rep["results"] if r["keystroke"]) /
                                         max(1, sum(r["runs"] for r in rep["results"] if r["keystroke"]))),
            "keystroke_model_ms_median": _pct([r["model_ms"] for r in keys], 0.5),
            "tokens_per_sentence": statistics.mean(len(r["tokens"]) for r in rep["results"]),
            "accuracy_vs_gold": correct / scored if scored else None,
            "distinct_tags": len({t for r in rep["results"] for t in r["tags"]}) if tagging else None,
            "distinct_labels": None if tagging else len({r["label"] for r in rep["results"]}),
            "problems": rep["problems"], "hover_first": rep["results"][0]["hover"] if rep["results"] else None,
        }
    return summary


def serve(folder: Path):
    from pipeline.runtime.web import install_page, make_server

    install_page(dev=True)
    server = make_server(folder, port=0, install=False)
    server.start_thread()
    return server


def measure(folder: Path | str, texts: list[str], *, gold=None, variants: list[str] | None = None,
            keystrokes: int = 20, screenshot: Path | None = None, screenshot_text: str = "") -> dict:
    folder = Path(folder)
    server = serve(folder)
    try:
        variants = variants or [server.config["default"]]
        report = drive(server.url, texts, variants=variants, keystrokes=keystrokes, screenshot=screenshot,
                       screenshot_text=screenshot_text)
    finally:
        server.shutdown()
        server.server_close()
    return {"browser": report["browser"], "default": server.config["default"],
            "default_reason": server.config["default_reason"], "variants": compare(folder, report, texts, gold)}


def table(result: dict) -> str:
    lines = [f"{result['browser']}; default {result['default']} ({result['default_reason']})",
             f"{'file':24} {'size':>8} {'acc':>7} {'same':>9} {'max|dp|':>8} {'load ms':>8} {'sent ms':>8} "
             f"{'p90 ms':>7} {'key ms':>7} {'steps/key':>9}"]
    for f, s in result["variants"].items():
        acc = f"{100 * s['accuracy_vs_gold']:.2f}%" if s["accuracy_vs_gold"] is not None else "-"
        lines.append(f"{f:24} {s['bytes'] / 1e6:7.2f}M {acc:>7} {s['sentences'] - s['sentences_differing']:>4}/"
                     f"{s['sentences']:<4} {s['max_abs_prob_diff']:8.1e} {s['load_ms']:8.0f} "
                     f"{s['sentence_model_ms_median']:8.2f} {s['sentence_model_ms_p90']:7.2f} "
                     f"{s['keystroke_model_ms_median']:7.2f} {s['keystroke_steps_per_run']:4.1f}/"
                     f"{s['keystroke_tokens_per_run']:<4.1f}")
    return "\n".join(lines)


def heldout(folder: Path, n: int) -> tuple[list[str], list]:
    """The first ``n`` non-empty held-out sequences of the export's run, as typed text and gold labels."""
    from pipeline.artifacts import read_json
    from pipeline.check.keras_side import find_run
    from pipeline.check.parity import heldout_split

    _, split = heldout_split(find_run(read_json(folder / "export.json"), None))
    keep = [i for i, t in enumerate(split.tokens) if t][:n]
    return [" ".join(split.tokens[i]) for i in keep], [split.labels[i] for i in keep]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export")
    ap.add_argument("--sentences", type=int, default=300)
    ap.add_argument("--variants", help="comma-separated model files (default: the page's default, then every other; "
                                       "the screenshot shows the first)")
    ap.add_argument("--keystrokes", type=int, default=20, help="sentences typed key by key (the rest in one go)")
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--screenshot-text", default="")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    folder = Path(args.export)
    from pipeline.runtime.web import web_config

    config = web_config(folder)
    every = [v["file"] for v in config["variants"]] + ([config["stream"]["file"]] if config["stream"] else [])
    variants = args.variants.split(",") if args.variants else [config["default"]] + [f for f in every
                                                                                    if f != config["default"]]
    texts, gold = heldout(folder, args.sentences)
    result = measure(folder, texts, gold=gold, variants=variants, keystrokes=args.keystrokes,
                     screenshot=args.screenshot, screenshot_text=args.screenshot_text)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(s["sentences_differing"] == 0 and not s["problems"] for s in result["variants"].values()) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    sys.exit(main())
