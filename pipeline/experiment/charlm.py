"""Contextual string embeddings (Akbik et al. 2018): a character LM's states as word features.

What :func:`run_char_lm` does with the plan's :class:`~pipeline.experiment.plan.CharLMPlan`, after the
grid and the published-class models:

1. pretrains one character LM (:func:`pipeline.train.char_lm.pretrain`, a forward and a backward
   LSTM) on the training splits of brown-upos, mr and conll2003-ner; its held-out bits per character (the dev
   splits), training characters and seconds are kept, its loss curve is copied to ``lm_curve.png``;
2. trains the plan's ``lm`` variants with ``lm=`` that run (the published variants' machinery:
   :func:`pipeline.experiment.published.run_variant`: fused export, parity against Keras, timing):
   the Ma & Hovy tagger + LM on brown-upos, the same recipe on conll2003-ner, the max-pooled mr
   classifier + LM; each LM variant is compared with the run it adds the LM to;
3. scores the experiment's Brown taggers (the grid BiLSTM, the Ma & Hovy variant, the LM variant)
   on ``ewt-upos`` test beside NLTK's averaged perceptron trained on the experiment's brown-upos
   train split (:mod:`pipeline.experiment.peers`);
4. scores the conll2003-ner taggers' entity F1 (conlleval) beside a CRF with hand-made features;
5. scores the experiment's mr classifiers on the amazon/tweets/nyt sentiment sets beside TF-IDF +
   logistic regression trained on mr train and each set's majority label;
6. states issue 16's targets (:func:`issue_targets`) as met / not met.

Keras predictions are decoded as ``rnnx evaluate RUN --data NAME`` decodes them (CRF taggers with
Viterbi). Out-of-domain sets are sampled (seeded) when the plan sets ``eval_limit`` (quick mode).

>>> gains({"test_accuracy": 0.981, "test_oov_accuracy": 0.91}, {"test_accuracy": 0.979, "test_oov_accuracy": 0.9})
{'test_accuracy': 0.2, 'test_oov_accuracy': 1.0}
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from statistics import mean
from typing import Callable

from pipeline.artifacts import atomic_path
from pipeline.scoring.accuracy import accuracy

POS_TARGET = "ewt-upos"
SENTIMENT_TARGETS = ("amazon-sentiment", "tweets-sentiment", "nyt-sentiment")
NER_DATA = "conll2003-ner"
LM_NAME = "char-lm"
CURVE = "lm_curve.png"
#: issue 16's targets
TARGETS = {"brown_accuracy": 0.983, "brown_oov_accuracy": 0.92, "out_of_domain_points": 1.5, "mr_accuracy": 0.80,
           "ner_f1_points": 3.0}


def pretrain_lm(plan, root: Path, *, seed: int, verbose: int = 0) -> tuple[Path, dict]:
    """Pretrain the section's character LM into ``root/saved_models``; ``(run folder, summary)``."""
    from pipeline.artifacts import read_json
    from pipeline.train.char_lm import LMOptions, LMSpec, pretrain

    options = LMOptions(units=plan.units, char_dim=plan.char_dim, epochs=plan.epochs, seed=seed,
                        train_limit=plan.train_limit, verbose=verbose)
    path = pretrain(LMSpec(LM_NAME, list(plan.data), options), root=root / "saved_models", force=True)
    metrics, config = read_json(path / "metrics.json"), read_json(path / "config.json")
    held = metrics["heldout"]
    summary = {"run": str(path), "data": list(plan.data), "units": plan.units, "char_dim": plan.char_dim,
               "epochs": plan.epochs, "epochs_run": metrics["epochs_run"], "train_limit": plan.train_limit,
               "num_chars": config["model"]["num_chars"], "train_characters": metrics["train_characters"],
               "train_seconds": metrics["train_seconds"], "heldout_characters": held["characters"],
               "bpc_forward": held["bpc_forward"], "bpc_backward": held["bpc_backward"], "bpc_mean": held["bpc_mean"],
               "sources": config.get("sources", [])}
    return path, summary


def gains(with_lm: dict, without: dict) -> dict:
    """Points gained by the LM run over ``without`` on test accuracy and OOV accuracy (None when unknown)."""
    out = {}
    for key in ("test_accuracy", "test_oov_accuracy"):
        a, b = with_lm.get(key), without.get(key)
        out[key] = None if a is None or b is None else round(100 * (a - b), 2)
    return out


def _mean_row(rows: list[dict]) -> dict:
    """Test and OOV accuracy averaged over ``rows`` (the seeds of one family).

    >>> _mean_row([{"test_accuracy": 0.5, "test_oov_accuracy": None}, {"test_accuracy": 0.7}])
    {'test_accuracy': 0.6, 'test_oov_accuracy': None}
    """
    out = {}
    for key in ("test_accuracy", "test_oov_accuracy"):
        values = [r.get(key) for r in rows]
        out[key] = None if None in values else round(mean(values), 12)
    return out


def _sample(split, limit: int | None, seed: int):
    from pipeline.experiment.slices import sample_indices

    if limit is None or limit >= len(split):
        return split
    part = split.subset(sample_indices(len(split), limit, seed=seed))
    part.source = f"{split.source} ({limit} of {len(split)} sampled, seed {seed})"
    return part


def keras_predictor(run_path: Path | str, task: str):
    """``(predict(split) -> labels, run)`` for the run at ``run_path``, checked to be a ``task`` model: Keras
    probabilities decoded as ``rnnx evaluate RUN --data NAME`` decodes them (CRF taggers: Viterbi)."""
    from pipeline.errors import ConfigError
    from pipeline.train.evaluate import decode_model_predictions, predict_probs
    from pipeline.train.rundir import load_run

    run = load_run(run_path)
    if run.task != task:
        raise ConfigError(f"{run_path} is a {run.task} run; expected a {task} run here")
    model, encoder, names = run.model, run.encoder, run.labels.names

    def predict(split):
        return decode_model_predictions(model, predict_probs(model, encoder, split), names, split.task)

    return predict, run


def out_of_domain_tagging(taggers: list[dict], brown: dict, *, limit: int | None, nltk_iterations: int,
                          seed: int) -> dict:
    """``taggers`` (rows with ``label``, ``run``, ``test_accuracy``) and NLTK's perceptron trained on ``brown``'s
    train split, on ewt-upos test: accuracy and accuracy on the tokens whose form brown train never has."""
    from pipeline.data.datasets import load_dataset
    from pipeline.experiment.peers import nltk_perceptron

    target = _sample(load_dataset(POS_TARGET)["test"], limit, seed)
    seen = {w for toks in brown["train"].tokens for w in toks}
    unseen = [[w not in seen for w in toks] for toks in target.tokens]

    def scored(predicted) -> dict:
        return {"accuracy": accuracy(target.labels, predicted),
                "unseen_accuracy": accuracy(target.labels, predicted, keep=unseen, empty=None)}

    rows = []
    for t in taggers:
        started = time.perf_counter()
        rows.append({"model": t["label"], "name": t["name"], "run": t["run"], "brown_test_accuracy": t["test_accuracy"],
                     **scored(keras_predictor(t["run"], "tagging")[0](target)),
                     "seconds": round(time.perf_counter() - started, 1)})
    predict, info = nltk_perceptron(brown["train"], nltk_iterations, seed)
    started = time.perf_counter()
    rows.append({"model": "NLTK averaged perceptron", "name": "nltk-perceptron", "peer": True,
                 "brown_test_accuracy": accuracy(brown["test"].labels, predict(brown["test"].tokens)),
                 **scored(predict(target.tokens)), "iterations": info["iterations"],
                 "train_seconds": round(info["train_seconds"], 1), "seconds": round(time.perf_counter() - started, 1)})
    return {"data": target.source or f"{POS_TARGET}:test", "sentences": len(target), "tokens": target.num_tokens,
            "trained_on": brown["train"].source or "brown-upos:train",
            "unseen_share": sum(map(sum, unseen)) / max(1, target.num_tokens), "rows": rows}


def ner_comparison(taggers: list[dict], ner: dict, *, c1: float, c2: float, iterations: int) -> dict:
    """conll2003-ner test entity F1 of ``taggers`` (rows with ``test_entity_f1``) beside the CRF peer trained on
    ``ner``'s train split."""
    from pipeline.experiment.peers import crf_tagger
    from pipeline.scoring.metrics import tagging_report

    rows = []
    for t in taggers:
        rows.append({"model": t["label"], "name": t["name"], "lm": t.get("lm", False), "test_f1": t["test_entity_f1"],
                     "test_accuracy": t["test_accuracy"], "epochs_run": t["epochs_run"],
                     "train_seconds": t["train_seconds"]})
    predict, info = crf_tagger(ner["train"], c1=c1, c2=c2, iterations=iterations)
    test = tagging_report(ner["test"].labels, predict(ner["test"].tokens))
    ent = test["entities"]
    rows.append({"model": info["model"], "name": "crf", "peer": True, "test_f1": ent["f1"],
                 "test_precision": ent["precision"], "test_recall": ent["recall"], "test_accuracy": test["accuracy"],
                 "train_seconds": round(info["train_seconds"] + info["feature_seconds"], 1)})
    return {"data": ner["test"].source or f"{NER_DATA}:test", "sentences": len(ner["test"]),
            "entities": ent["support"], "rows": rows}


def out_of_domain_sentiment(classifiers: list[dict], mr: dict, *, limit: int | None, seed: int) -> dict:
    """``classifiers`` (rows with ``label``, ``family``, ``run``) on the three rated sentiment sets beside TF-IDF +
    logistic regression trained on ``mr``'s train split (C on its dev split) and each set's majority label."""
    from pipeline.data.datasets import load_dataset
    from pipeline.experiment.peers import majority_share, tfidf_logreg

    sets = {name: _sample(load_dataset(name)["test"], limit, seed) for name in SENTIMENT_TARGETS}
    rows = []
    for c in classifiers:
        predict = keras_predictor(c["run"], "classification")[0]
        acc = {name: accuracy(s.labels, predict(s), task="classification") for name, s in sets.items()}
        rows.append({"model": c["label"], "name": c["name"], "family": c.get("family") or c["name"],
                     "seed": c.get("seed"), "lm": c.get("lm", False), "mr_test_accuracy": c["test_accuracy"],
                     "accuracy": acc})
    predict, info = tfidf_logreg(mr["train"], mr["dev"])
    rows.append({"model": "TF-IDF uni+bigram + LogisticRegression (scikit-learn)", "name": "tfidf-logreg",
                 "peer": True, "C": info["C"], "train_seconds": round(info["train_seconds"], 1),
                 "mr_test_accuracy": accuracy(mr["test"].labels, predict(mr["test"].tokens), task="classification"),
                 "accuracy": {name: accuracy(s.labels, predict(s.tokens), task="classification")
                              for name, s in sets.items()}})
    majority = {name: majority_share(s) for name, s in sets.items()}
    rows.append({"model": "majority label of each set (computed on that set)", "name": "majority", "peer": True,
                 "mr_test_accuracy": majority_share(mr["test"])[1],
                 "accuracy": {name: share for name, (_, share) in majority.items()}})
    return {"sets": {name: {"texts": len(s), "source": s.source, "majority_label": majority[name][0]}
                     for name, s in sets.items()}, "trained_on": mr["train"].source or "mr:train", "rows": rows}


def _families(rows: list[dict], value: Callable[[dict], float]) -> dict[str, dict]:
    """Rows grouped by family (seeds together): ``{family: {"value": mean, "runs": n, "label": ...}}``."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r.get("family") or r["name"], []).append(r)
    return {f: {"value": mean(value(r) for r in rs), "runs": len(rs), "label": rs[0]["model"]}
            for f, rs in out.items()}


def issue_targets(section: dict) -> list[dict]:
    """Issue 16's targets, each ``{"target", "model", "figure", "met", "single_seed", "statement"}``.

    >>> t = issue_targets({"taggers": [{"name": "lm", "label": "X + LM", "test_accuracy": 0.984,
    ...                                 "test_oov_accuracy": 0.93, "lm": True, "data": "brown-upos"}]})
    >>> t[0]["met"], t[0]["statement"]
    (True, 'X + LM: 98.40% test accuracy, 93.00% on OOV words (target 98.3% and 92%): met (single seed).')
    """
    out = []

    def add(target, model, figure, met, single_seed, text):
        out.append({"target": target, "model": model, "figure": figure, "met": bool(met), "single_seed": single_seed,
                    "statement": f"{text}: {'met' if met else 'not met'}"
                                 + (" (single seed)." if single_seed else ".")})

    def margin(target, model, value, peer_value, need, lead, peer_name):
        points = 100 * (value - peer_value)
        add(target, model, points, points >= need, True, f"{lead} {100 * value:.2f} vs {peer_name} "
            f"{100 * peer_value:.2f}, {points:+.2f} points (target +{need:g})")

    brown = next((r for r in section.get("taggers", []) if r.get("lm") and r["data"] == "brown-upos"), None)
    if brown:
        acc, oov = brown["test_accuracy"], brown.get("test_oov_accuracy")
        met = acc >= TARGETS["brown_accuracy"] and oov is not None and oov >= TARGETS["brown_oov_accuracy"]
        add("brown-upos test accuracy >= 98.3% and OOV accuracy >= 92%", brown["label"], acc, met, True,
            f"{brown['label']}: {100 * acc:.2f}% test accuracy, "
            f"{'-' if oov is None else f'{100 * oov:.2f}%'} on OOV words (target 98.3% and 92%)")
    ood = section.get("out_of_domain_tagging")
    if ood:
        peer = next(r for r in ood["rows"] if r.get("peer"))
        best = max((r for r in ood["rows"] if not r.get("peer")), key=lambda r: r["accuracy"], default=None)
        if best:
            margin("ewt-upos (out of domain) >= 1.5 points above NLTK's perceptron", best["model"], best["accuracy"],
                   peer["accuracy"], TARGETS["out_of_domain_points"],
                   f"best Brown tagger on {POS_TARGET} test, {best['model']}: accuracy", "NLTK's")
    sent = section.get("out_of_domain_sentiment")
    if sent:
        models = [r for r in sent["rows"] if not r.get("peer")]
        fams = _families(models, lambda r: r["mr_test_accuracy"])
        fam, info = max(fams.items(), key=lambda kv: kv[1]["value"])
        add("mr test accuracy >= 80%", info["label"], info["value"], info["value"] >= TARGETS["mr_accuracy"],
            info["runs"] == 1, f"best mr classifier, {info['label']}"
            + (f" (mean of {info['runs']} seeds)" if info["runs"] > 1 else "")
            + f": {100 * info['value']:.2f}% (target 80%)")
        peer = next(r for r in sent["rows"] if r["name"] == "tfidf-logreg")
        ood_fams = _families(models, lambda r: mean(r["accuracy"].values()))
        fam, info = max(ood_fams.items(), key=lambda kv: kv[1]["value"])
        rows = [r for r in models if (r.get("family") or r["name"]) == fam]
        per_set = {name: mean(r["accuracy"][name] for r in rows) for name in peer["accuracy"]}
        wins = [name for name, acc in per_set.items() if acc >= peer["accuracy"][name]]
        add("sentiment out of domain >= TF-IDF + LogisticRegression on each set", info["label"], per_set,
            len(wins) == len(per_set), info["runs"] == 1,
            f"best mr classifier out of domain, {info['label']}"
            + (f" (mean of {info['runs']} seeds)" if info["runs"] > 1 else "") + ": "
            + ", ".join(f"{n.split('-')[0]} {100 * a:.1f}% vs {100 * peer['accuracy'][n]:.1f}%"
                        for n, a in per_set.items())
            + f"; at or above TF-IDF on {len(wins)} of {len(per_set)} sets")
    ner = section.get("ner")
    if ner:
        peer = next(r for r in ner["rows"] if r.get("peer"))
        lm = next((r for r in ner["rows"] if r.get("lm")), None)
        if lm:
            margin("conll2003-ner entity F1 >= 3 points above the CRF peer", lm["model"], lm["test_f1"],
                   peer["test_f1"], TARGETS["ner_f1_points"], f"{lm['model']} on {NER_DATA} test: entity F1",
                   "the CRF's")
    return out


def run_char_lm(plan, data: dict, root: Path | str, grid_rows: list[dict], published: list[dict], *,
                log: Callable[[str], None] = print, verbose: int = 0) -> dict:
    """The section (see the module docstring); its results dict, ``results["char_lm"]``."""
    from pipeline.experiment.published import log_row, run_variant
    from pipeline.experiment.slices import prepare

    lm_plan = plan.char_lm
    root = Path(root)
    seconds: dict[str, float] = {}
    started = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        seconds[name] = round(now - last, 1)
        last = now
        log(f"rnnx experiment: character LMs: {name} done in {seconds[name]:.0f} s")

    lm_path, lm = pretrain_lm(lm_plan, root, seed=plan.seed, verbose=verbose)
    with atomic_path(root / CURVE, suffix=".png") as tmp:
        shutil.copyfile(lm_path / "training_curve.png", tmp)
    log(f"[char LM] {LM_NAME}: held-out bits per character {lm['bpc_forward']:.3f} forward, "
        f"{lm['bpc_backward']:.3f} backward, {lm['train_characters']:,} training characters, "
        f"{lm['train_seconds']:.0f} s")
    lap("LM pretraining")

    tasks = {t.data: t for t in plan.tasks}
    data = dict(data)
    if lm_plan.ner is not None and any(v.data == lm_plan.ner.data for v in lm_plan.variants):
        tasks[lm_plan.ner.data] = lm_plan.ner
        data[lm_plan.ner.data] = prepare(lm_plan.ner, root, seed=plan.seed)
    rows = []
    for k, variant in enumerate(lm_plan.variants, 1):
        row = run_variant(variant, tasks[variant.data], data[variant.data], root, seed=plan.seed,
                          budget_s=plan.latency_budget_s, lm=str(lm_path), verbose=verbose)
        bases = [r for r in published + rows if r.get("family") and row["family"] == r["family"] + "-lm"]
        row["compared_with"] = [r["name"] for r in bases]  # the run(s) the LM is added to: seeds are averaged
        row["gain_points"] = gains(row, _mean_row(bases)) if bases else None
        rows.append(row)
        log(log_row(row, f"char LM {k}/{len(lm_plan.variants)}"))
        lap(f"{row['name']} (train, export, check, measure)")

    section = {"lm": lm, "taggers": rows, "figures": [CURVE]}
    brown_lm = next((r for r in rows if r["data"] == "brown-upos" and r["lm"]), None)
    if "brown-upos" in data:
        grid = [r for r in grid_rows if r["data"] == "brown-upos" and r["cell"] == "lstm" and r["bidirectional"]]
        base = [r for r in published if brown_lm and r["name"] in brown_lm["compared_with"]]
        taggers = [{**r, "label": r.get("label") or "BiLSTM (grid)"} for r in grid + base + [brown_lm] if r]
        section["out_of_domain_tagging"] = out_of_domain_tagging(
            taggers, data["brown-upos"].splits, limit=lm_plan.eval_limit, nltk_iterations=lm_plan.nltk_iterations,
            seed=plan.seed)
        lap(f"{POS_TARGET} (taggers, NLTK's perceptron)")
    ner_rows = [r for r in rows if r["data"] == NER_DATA]
    if ner_rows:
        section["ner"] = ner_comparison(ner_rows, data[NER_DATA].splits, c1=lm_plan.crf_c1, c2=lm_plan.crf_c2,
                                        iterations=lm_plan.crf_iterations)
        lap(f"{NER_DATA} (CRF peer)")
    mr_lm = [r for r in rows if r["data"] == "mr"]
    classifiers = [r for r in published if any(x["family"] == r["family"] + "-lm" for x in mr_lm)] + mr_lm
    if classifiers:
        section["out_of_domain_sentiment"] = out_of_domain_sentiment(classifiers, data["mr"].splits,
                                                                     limit=lm_plan.eval_limit, seed=plan.seed)
        lap("sentiment sets (classifiers, TF-IDF)")
    section["targets"] = issue_targets(section)
    seconds["total"] = round(time.perf_counter() - started, 1)
    section["seconds"] = seconds
    return section
