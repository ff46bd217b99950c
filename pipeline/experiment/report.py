"""Render ``results.json`` of :func:`~pipeline.experiment.runner.run_experiment` as ``report.md``.

Pure formatting: every number in the report comes from the results dict, so the
report can be re-rendered from ``results.json`` alone::

    from pipeline.artifacts import read_json
    print(render(read_json("experiments/full/results.json")))

>>> table(["a", "b"], [[1, "x"], [2, "y"]])
'| a | b |\\n|---|---|\\n| 1 | x |\\n| 2 | y |'
"""

from __future__ import annotations

from pipeline.models.config import CELL_TITLES

TITLES = {"tagging": "Tagging: brown-upos (12 universal tags)", "classification": "Classification: mr (pos/neg)"}


def table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}"


def model_title(cell: str, bidirectional: bool) -> str:
    return ("Bi" if bidirectional else "") + CELL_TITLES[cell]


def _sliced(task: dict) -> bool:
    return any(task.get(k) is not None for k in ("train_limit", "dev_limit", "test_limit"))


def _setup(res: dict) -> str:
    plan = res["plan"]
    rows = []
    for t in plan["tasks"]:
        sizes = res["data"][t["data"]]
        rows.append([t["data"], t["task"], f"{sizes['train']['sequences']:,}", f"{sizes['dev']['sequences']:,}",
                     f"{sizes['test']['sequences']:,} ({sizes['test']['tokens']:,} tokens)", t["epochs"],
                     t["units"], t["embedding_dim"], t["dropout"], t["batch_size"], t["min_freq"]])
    env = res["environment"]
    note = ("**Quick mode**: tiny models on small slices for one epoch, a smoke test of every stage. "
            "Its numbers answer none of the questions.\n\n" if plan["mode"] == "quick" else "")
    return (
        f"{note}Mode `{plan['mode']}`, seed {plan['seed']}, {env['device']}, {env['cpu_count']} CPU cores; "
        f"{', '.join(f'{k} {v}' for k, v in env['versions'].items())}. "
        f"Total wall time **{res['seconds']['total'] / 60:.1f} min** "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in res['seconds'].items() if k != 'total')}).\n\n"
        + table(["data", "task", "train", "dev", "test", "epochs (max)", "units", "embedding", "dropout", "batch",
                 "min freq"], rows)
        + "\n\nEvery configuration uses one recurrent layer, Adam (lr 0.002, clipnorm 5), early stopping on "
          "the dev loss (patience 2, best weights kept)."
        + (" Slices are seeded random samples of the built-in splits (the Brown files are ordered by genre, "
           "so a head would be one genre)." if any(_sliced(t) for t in plan["tasks"]) else
           " All runs use the built-in splits whole.")
        + " Seconds per epoch and latencies are wall times on this machine: anything else running on the "
          "same cores shows up in them.\n"
    )


def _q1(res: dict) -> str:
    out = ["## 1. SimpleRNN vs LSTM vs GRU, unidirectional vs bidirectional", ""]
    out.append("Test accuracy is Keras's, on the whole test split (ORT column: the same split through the fused "
               "ONNX model). Training time is `model.fit` wall time per epoch, dev pass included, on this "
               "machine's CPU. Latency: fused `model.onnx`, ONNX Runtime on 1 thread, batch 1, one test sentence "
               "of median length, p50 (p90) over repeated calls.")
    for task in ("tagging", "classification"):
        rows = [r for r in res["runs"] if r["task"] == task]
        if not rows:
            continue
        extra = "OOV acc % (share)" if task == "tagging" else "macro-F1 %"
        body = []
        for r in rows:
            extra_cell = (f"{pct(r['test_oov_accuracy'])} ({pct(r['test_oov_share'], 1)}%)" if task == "tagging"
                          else pct(r["test_macro_f1"]))
            body.append([model_title(r["cell"], r["bidirectional"]), f"**{pct(r['test_accuracy'])}**",
                         pct(r["test_accuracy_onnx"]), extra_cell, pct(r["dev_accuracy"]),
                         f"{r['parameters']:,} ({r.get('recurrent_parameters', 0):,})",
                         f"{r['seconds_per_epoch']:.1f} (x{r['epochs_run']})",
                         f"{r['latency_p50_ms']:.3f} ({r['latency_p90_ms']:.3f})", r["latency_tokens"]])
        out += ["", f"### {TITLES[task]}", "",
                table(["model", "test acc %", "ORT test acc %", extra, "dev acc %", "parameters (recurrent)",
                       "s / epoch (epochs)",
                       "ORT p50 (p90) ms", "tokens"], body),
                "", f"![{task}](grid_{task}.png)"]
    best = {t: max((r for r in res["runs"] if r["task"] == t), key=lambda r: r["test_accuracy"], default=None)
            for t in ("tagging", "classification")}
    lines = [f"best {t}: {model_title(b['cell'], b['bidirectional'])} {pct(b['test_accuracy'])}%"
             for t, b in best.items() if b]
    out += ["", "Accuracy against latency: " + "; ".join(lines) + ".", "", "![tradeoff](tradeoff.png)", ""]
    return "\n".join(out)


def _q2(res: dict) -> str:
    q = res["sentence_pair"]
    out = ['## 2. "They are early birds" vs "They are early today"', ""]
    if not q:
        return "\n".join(out + ["(no tagger in this run)", ""])
    a, b = (" ".join(s) for s in q[0]["sentences"])
    focus = q[0]["focus"]
    word = q[0]["sentences"][0][focus]
    prefix = " ".join(q[0]["sentences"][0][:focus + 1])
    out.append(f"Sentence A: *{a}*; sentence B: *{b}*. Each is run alone (batch 1). \"prefix identical\" "
               f"compares the probabilities at positions 1-{focus + 1} (\"{prefix}\") "
               f"between A and B bit for bit (`numpy.array_equal`); the max |difference| is shown.")
    body = []
    for m in q:
        for engine, e in m["engines"].items():
            fa, fb = e["focus"]
            body.append([model_title(m["cell"], m["bidirectional"]), engine,
                         ("**yes**" if e["prefix_identical"] else "no") + f" ({e['prefix_max_abs_diff']:.2g})",
                         f"{fa['tag']} ({fa['prob']:.3f})", f"{fb['tag']} ({fb['prob']:.3f})",
                         " ".join(e["tags"][0]), " ".join(e["tags"][1])])
    out += ["", table(["tagger", "engine", "prefix identical (max abs diff)", f'"{word}" in A', f'"{word}" in B',
                       "tags A", "tags B"], body), ""]
    uni = [m for m in q if not m["bidirectional"]]
    bi = [m for m in q if m["bidirectional"]]
    if uni:
        ok = all(e["prefix_identical"] for m in uni for e in m["engines"].values())
        out.append(f"Unidirectional taggers: the output for \"{word}\" is "
                   f"{'exactly the same' if ok else 'NOT the same (a bug: see the table)'} in both sentences, on "
                   "Keras and on ONNX Runtime: the state at \"early\" has not read the next word. The property test "
                   "`tests/test_experiment.py` checks the same over random prefixes and suffixes for random-weight "
                   "SimpleRNN, LSTM and GRU taggers.")
    if bi:
        changed = [m for m in bi if not m["engines"]["onnx"]["prefix_identical"]]
        flips = [m for m in bi if m["engines"]["onnx"]["focus"][0]["tag"] != m["engines"]["onnx"]["focus"][1]["tag"]]
        out.append("")
        out.append(f"Bidirectional taggers: the probabilities for \"{word}\" change with the following word in "
                   f"{len(changed)} of {len(bi)} taggers; the predicted tag differs between A and B in {len(flips)} "
                   f"({', '.join(model_title(m['cell'], True) for m in flips) or 'none'}).")
        usage = res.get("focus_word_in_training_data") or {}
        if usage:
            out.append(f"In the training split, \"{word}\" is tagged " + "; ".join(
                f"{where}: " + ", ".join(f"{t} {n}" for t, n in tags.items()) for where, tags in usage.items()
                if tags) + ".")
        for m in bi:
            fa, fb = m["engines"]["onnx"]["focus"]
            top = lambda f: ", ".join(f"{t} {p:.3f}" for t, p in f["top"])  # noqa: E731
            out.append(f"- {model_title(m['cell'], True)}: A {top(fa)}; B {top(fb)}")
    unknown = sorted({w for m in q for w in m["unknown_words"]})
    if unknown:
        out += ["", f"Out of the taggers' vocabulary: {', '.join(unknown)}."]
    out.append("")
    return "\n".join(out)


def _q3(res: dict) -> str:
    v = res["bidirectional"]
    out = ["## 3. Is a bidirectional RNN worth it for text classification?", "", v.get("paragraph", ""), ""]
    for task in ("classification", "tagging"):
        if task not in v:
            continue
        body = [[CELL_TITLES[p["cell"]], pct(p["uni_accuracy"]), pct(p["bi_accuracy"]),
                 f"{p['gain_points']:+.2f} [{p['gain_ci95_points'][0]:+.2f}, {p['gain_ci95_points'][1]:+.2f}]",
                 f"{p['uni_latency_ms']:.3f} / {p['bi_latency_ms']:.3f}", f"{p['latency_ratio']:.2f}x",
                 f"{p['parameter_ratio']:.2f}x", f"{p['epoch_time_ratio']:.2f}x"] for p in v[task]["pairs"]]
        out += [f"{task}:", "", table(["cell", "uni acc %", "bi acc %", "gain, points [95% CI]",
                                       "ORT p50 uni / bi ms", "latency ratio", "parameter ratio",
                                       "epoch-time ratio"], body), ""]
    return "\n".join(out)


def _q4(res: dict) -> str:
    p4 = res["probes"]
    out = ["## 4. What does a hidden state represent?", ""]
    if not p4["probes"]:
        return "\n".join(out + ["(no tagger in this run)", ""])
    d = p4["data"]
    out.append(f"Linear probes (softmax regression, numpy) read one token's vector and predict the universal tag "
               f"of the current, previous and next token (`<s>`/`</s>` at the sentence edges). They are trained on "
               f"{d['train_sentences']:,} dev sentences and scored on {d['test_sentences']:,} test sentences "
               f"({p4['probes'][0]['test_tokens']:,} tokens), all unseen by the taggers. *embedding* is the word "
               "vector alone (what the word says without context); *state* is the recurrent layer's output; a "
               "bidirectional state is also split into its forward and backward halves.")
    body = []
    for p in p4["probes"]:
        name = model_title(p["cell"], p["bidirectional"])
        for fname, acc in p["features"].items():
            body.append([name, fname, acc["dim"], pct(acc["current"], 1), pct(acc["previous"], 1),
                         pct(acc["next"], 1)])
    maj = p4["probes"][0]["majority"]
    body.append(["(any)", "majority class", "-", pct(maj["current"], 1), pct(maj["previous"], 1),
                 pct(maj["next"], 1)])
    out += ["", table(["tagger", "features", "dim", "current tag %", "previous tag %", "next tag %"], body), "",
            "![probes](probes.png)", "", p4.get("summary", ""), ""]
    for nn in p4["neighbours"]:
        out.append(f"Nearest neighbours (cosine) of the state at \"early\" among the probe-training tokens, "
                   f"{model_title(nn['cell'], nn['bidirectional'])} tagger:")
        for q in nn["queries"]:
            out += ["", f"*{q['sentence']}*", "",
                    table(["#", "word", "gold tag", "cosine", "context"],
                          [[k + 1, n["word"], n["tag"], f"{n['cosine']:.3f}", n["context"].replace("|", "\\|")]
                           for k, n in enumerate(q["neighbours"])])]
        out.append("")
    return "\n".join(out)


def _published(res: dict) -> str:
    rows = res.get("published") or []
    if not rows:
        return ""
    word = {r["data"]: r for r in res["runs"] if r["cell"] == "lstm" and r["bidirectional"]}
    lines = ["## Beyond the grid: character features, a CRF (Ma & Hovy 2016), word dropout, pooling", "",
             "-CNN: each word is also read character by character (embedding 30 -> Conv1D width 3 -> max over the "
             "characters), concatenated with the word embedding. -CRF: a linear-chain CRF trained on the CRF "
             "log-likelihood and decoded with Viterbi, inside the exported ONNX graph too. Word dropout: in "
             "training a share of the word ids become the unknown word, so the tagger learns to read unknown words "
             "from their characters. Max-pooled: a classifier takes the maximum of every state over the text instead "
             "of the last state. Parity: the fused export against Keras on the whole test split; for the CRF the "
             "decoded tag sequences must be identical.", ""]
    body = []
    for r in [word[d] for d in sorted({r["data"] for r in rows}) if d in word] + rows:
        p = r.get("parity") or {}
        tags = "-" if p.get("tags_compared") is None else f"{p['tags_differing']} of {p['tags_compared']}"
        label = r.get("label", r["model"].split(" ")[0] + " (grid)")
        label += "" if r.get("seed") is None else f", seed {r['seed']}"
        body.append([r["data"], label, r["epochs_run"],
                     pct(r["test_accuracy"]), pct(r["test_accuracy_onnx"]), pct(r.get("test_oov_accuracy")),
                     f"{r['parameters']:,}", f"{r['seconds_per_epoch']:.0f}", f"{r['latency_p50_ms']:.3f}",
                     "-" if not p else f"{p['max_abs_diff']:.1e}", tags])
    lines.append(table(["data", "model", "epochs", "test acc % (Keras)", "test acc % (ORT)", "OOV acc %",
                        "parameters", "s/epoch", "ORT p50 ms (b1, 1 thread)", "max abs diff", "CRF paths differing"],
                       body))
    lines += ["", "Targets (the best model of each corpus on its test split; a model trained with several seeds "
              "is scored by its mean):", ""]
    lines.append(table(["data", "best model", "seeds", "accuracy % (range)", "target %", "OOV accuracy %",
                        "target OOV %", "met"],
                       [[t["data"], t["best"], t.get("runs", 1), _with_range(t), pct(t["target_accuracy"]),
                         pct(t["oov_accuracy"]), pct(t["target_oov_accuracy"]), "yes" if t["met"] else "**no**"]
                        for t in res.get("targets", [])]))
    return "\n".join(lines) + "\n"


def _char_lm(res: dict) -> str:
    sec = res.get("char_lm")
    if not sec:
        return ""
    lm = sec["lm"]
    quick = res["plan"]["mode"] == "quick"
    out = ["## Contextual string embeddings (character LMs)", "",
           "Akbik et al. (2018): a forward and a backward character LSTM language model is pretrained on running text; "
           "a tagger or classifier reads, for every word, the forward state after the word's last character and the "
           "backward state before its first (frozen LM weights), beside its word embedding and character CNN. The "
           "fused export runs the character LSTM as one bidirectional ONNX `LSTM` over the sentence's characters.", ""]
    limit = f", the first {lm['train_limit']:,} texts of each" if lm.get("train_limit") else ""
    out.append(f"One LM, {lm['units']} LSTM units per direction, character embedding {lm['char_dim']}, "
               f"{lm['num_chars']} characters, trained for {lm['epochs_run']} of at most {lm['epochs']} epochs on the "
               f"training splits of {', '.join(lm['data'])}{limit}; bits per character on their dev splits "
               "(held out; test splits are never read):")
    out += ["", table(["training characters", "train s", "held-out characters", "bpc forward", "bpc backward",
                       "bpc mean"],
                      [[f"{lm['train_characters']:,}", f"{lm['train_seconds']:.0f}", f"{lm['heldout_characters']:,}",
                        f"{lm['bpc_forward']:.3f}", f"{lm['bpc_backward']:.3f}", f"{lm['bpc_mean']:.3f}"]]),
            "", f"![character LM loss]({sec['figures'][0]})", ""]
    # the LM runs beside the runs they add the LM to
    earlier = {r["name"]: r for r in (res.get("published") or []) + sec["taggers"]}
    body, shown = [], set()
    for r in sec["taggers"]:
        bases = [earlier[n] for n in r.get("compared_with") or [] if n in earlier and n not in shown]
        for row, gain in [(b, None) for b in bases] + [(r, r.get("gain_points"))]:
            if row["name"] in shown:
                continue
            shown.add(row["name"])
            p = row.get("parity") or {}
            g = gain or {}
            body.append([row["data"], row.get("label", row["name"]) + ("" if row.get("seed") is None else
                                                                       f", seed {row['seed']}"),
                         row["epochs_run"], pct(row["test_accuracy"]), pct(row["test_accuracy_onnx"]),
                         pct(row.get("test_oov_accuracy")), pct(row.get("test_entity_f1")),
                         "-" if g.get("test_accuracy") is None else f"{g['test_accuracy']:+.2f}",
                         "-" if g.get("test_oov_accuracy") is None else f"{g['test_oov_accuracy']:+.2f}",
                         f"{row['parameters']:,}", f"{row['seconds_per_epoch']:.0f}", f"{row['latency_p50_ms']:.3f}",
                         ("passed" if p.get("passed") else "**FAILED**") + f" ({p.get('max_abs_diff', 0):.1e})"])
    out += ["Runs with the LM (fused export, checked against Keras on the whole test split, timed like the grid), each "
            "after the run(s) it adds the LM to; gain: points over that run (over the mean of its seeds). Each LM "
            "run is a single seed.", "",
            table(["data", "model", "epochs", "test acc % (Keras)", "test acc % (ORT)", "OOV acc %", "entity F1 %",
                   "gain, points", "OOV gain, points", "parameters", "s/epoch", "ORT p50 ms", "parity (max abs diff)"],
                  body), ""]
    ood = sec.get("out_of_domain_tagging")
    if ood:
        out += [f"Out of domain: the Brown taggers on {ood['data']} ({ood['tokens']:,} tokens, "
                f"{100 * ood['unseen_share']:.1f}% of them never seen in {ood['trained_on']}), beside NLTK's averaged "
                "perceptron trained on the same brown-upos train split (5 passes, NLTK's default). Keras predictions "
                "(CRF: Viterbi), as `rnnx evaluate RUN --data ewt-upos` gives them.", "",
                table(["model", "brown-upos test %", "EWT test %", "EWT words unseen in Brown train %"],
                      [[r["model"], pct(r["brown_test_accuracy"]), f"**{pct(r['accuracy'])}**",
                        pct(r["unseen_accuracy"])] for r in ood["rows"]]), ""]
    ner = sec.get("ner")
    if ner:
        missing = "" if any(not r.get("lm") and not r.get("peer") for r in ner["rows"]) else (
            " The same tagger without the LM is not trained in this mode (time budget); "
            "benchmarks/results/ner_peer.json has BiLSTM-char-CRF taggers without it.")
        out += [f"Named entities, {ner['data']} ({ner['sentences']:,} sentences, {ner['entities']:,} entities): "
                "entity F1 (conlleval: an entity counts only with its gold start, end and type), beside "
                f"a CRF with hand-made word features (sklearn-crfsuite; c1/c2 fixed to the best of "
                f"benchmarks/results/ner_peer.json's dev grid). Trained outside the cells x directions grid."
                f"{missing}", "",
                table(["model", "test entity F1 %", "test token acc %", "epochs", "train s"],
                      [[r["model"], f"**{pct(r['test_f1'])}**", pct(r.get("test_accuracy")), r.get("epochs_run", "-"),
                        f"{r['train_seconds']:.0f}"] for r in ner["rows"]]), ""]
    sent = sec.get("out_of_domain_sentiment")
    if sent:
        names = list(sent["sets"])
        out += ["Sentiment out of domain: the mr classifiers on the other human-rated sets of the VADER study (same "
                "label rule and tokenizer as mr; " + ", ".join(f"{n} {s['texts']:,} texts" for n, s in
                                                              sent["sets"].items())
                + "), beside TF-IDF + logistic regression trained on mr train (C chosen on mr dev) and each set's "
                  "majority label (computed on that set). Accuracy %:", "",
                table(["model", "mr test", *names],
                      [[r["model"] + ("" if r.get("seed") is None else f", seed {r['seed']}"),
                        pct(r["mr_test_accuracy"]), *(pct(r["accuracy"][n]) for n in names)]
                       for r in sent["rows"]]), ""]
    targets = sec.get("targets") or []
    if targets:
        out += ["Issue 16's targets:", ""] + [f"- {t['statement']}" for t in targets] + [""]
    if quick:
        out += ["(Quick mode: tiny models on slices; these statements test the plumbing, not the targets.)", ""]
    return "\n".join(out)


def _with_range(t: dict) -> str:
    """``79.12`` for one run, ``77.57 (75.80-79.30)`` for several.

    >>> _with_range({"accuracy": 0.7757, "runs": 3, "accuracy_range": [0.758, 0.793]})
    '77.57 (75.80-79.30)'
    """
    if t.get("runs", 1) == 1:
        return pct(t["accuracy"])
    low, high = t["accuracy_range"]
    return f"{pct(t['accuracy'])} ({pct(low)}-{pct(high)})"


def render(res: dict) -> str:
    parts = [
        "# rnnx experiment: the lecture's questions, measured",
        "",
        _setup(res),
        _q1(res),
        _published(res),
        _char_lm(res),
        _q2(res),
        _q3(res),
        _q4(res),
        "## Files",
        "",
        "`results.json` (every number above), `grid_tagging.png`, `grid_classification.png`, `tradeoff.png`, "
        "`probes.png`" + (", `lm_curve.png`" if res.get("char_lm") else "")
        + "; the trained runs under `saved_models/` and their fused exports under `export/` of this "
        "folder. Re-run with `rnnx experiment --out DIR` (`--quick` for the smoke test).",
        "",
    ]
    return "\n".join(parts)
