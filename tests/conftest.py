"""Shared fixtures: small slices of the real corpora, written as user files.

Tests train on a few hundred real sentences so the whole suite stays fast; the
demo and benchmarks train on the full corpora.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest


def _write_wordtag(path, split):
    path.write_text("".join(" ".join(f"{w}/{t}" for w, t in zip(toks, tags)) + "\n"
                            for toks, tags in zip(split.tokens, split.labels)), encoding="utf-8")


def _write_tsv(path, split):
    path.write_text("".join(f"{label}\t{' '.join(toks)}\n" for toks, label in zip(split.tokens, split.labels)),
                    encoding="utf-8")


@pytest.fixture(scope="session")
def brown():
    from pipeline.data.datasets import load_dataset

    return load_dataset("brown-upos")


@pytest.fixture(scope="session")
def mr():
    from pipeline.data.datasets import load_dataset

    return load_dataset("mr")


@pytest.fixture(scope="session")
def brown_files(tmp_path_factory, brown):
    """train/dev/test word/tag files: 400 / 80 / 120 real Brown sentences (<= 40 tokens)."""
    root = tmp_path_factory.mktemp("brown")
    out = {}
    for name, n in (("train", 400), ("dev", 80), ("test", 120)):
        split = brown[name]
        keep = [i for i, t in enumerate(split.tokens) if len(t) <= 40][:n]
        path = root / f"{name}.txt"
        _write_wordtag(path, split.subset(keep))
        out[name] = path
    return out


@pytest.fixture(scope="session")
def mr_files(tmp_path_factory, mr):
    """train/dev/test label<TAB>text files: 600 / 100 / 150 real movie-review snippets."""
    root = tmp_path_factory.mktemp("mr")
    out = {}
    for name, n in (("train", 600), ("dev", 100), ("test", 150)):
        path = root / f"{name}.tsv"
        _write_tsv(path, mr[name].head(n))
        out[name] = path
    return out


@pytest.fixture(scope="session")
def corpus_files(brown_files, mr_files):
    return {"tagging": brown_files, "classification": mr_files}


@pytest.fixture(scope="session")
def trained_export(tmp_path_factory, corpus_files):
    """``trained_export("tagger" | "classifier" | "stream-tagger")``: a real export folder, trained once per session.

    ``stream-tagger`` is a unidirectional LSTM tagger exported with ``streaming=True``
    (``model.stream.onnx`` beside ``model.onnx``).

    Callers that change the folder work on a copy (:func:`copy_export`).
    """
    cache: dict = {}

    def get(kind: str):
        if kind in cache:
            return cache[kind]
        from pipeline.export.exporter import export_run
        from pipeline.models import ModelConfig
        from pipeline.train.fit import RunSpec, TrainOptions, train

        files = corpus_files["classification" if kind == "classifier" else "tagging"]
        if kind == "tagger":
            cfg = ModelConfig("tagging", "lstm", bidirectional=True, units=16, embedding_dim=16)
            opts = TrainOptions(epochs=2, verbose=0)
        elif kind == "stream-tagger":
            cfg = ModelConfig("tagging", "lstm", bidirectional=False, units=16, embedding_dim=16)
            opts = TrainOptions(epochs=2, verbose=0)
        else:
            cfg = ModelConfig("classification", "gru", bidirectional=False, units=12, embedding_dim=12)
            opts = TrainOptions(epochs=1, verbose=0)
        root = tmp_path_factory.mktemp(f"deploy-{kind}")
        spec = RunSpec(name=kind, data=str(files["train"]), dev=str(files["dev"]), test=str(files["test"]),
                       model=cfg, options=opts)
        run = train(spec, root=root / "saved_models")
        cache[kind] = export_run(run, out_root=root / "export", streaming=kind == "stream-tagger").folder
        return cache[kind]

    return get


def copy_export(src, dst_root):
    """A copy of the export folder ``src`` under ``dst_root`` (tests change copies only).

    ``export.json`` records its run relative to the export folder; the copy's record is
    rewritten to point at the same run from its new place, as moving a folder by hand would need.
    """
    import json
    import os
    import shutil

    dst = dst_root / src.name
    shutil.copytree(src, dst)
    info_path = dst / "export.json"
    info = json.loads(info_path.read_text())
    if info.get("source_run") and not os.path.isabs(info["source_run"]):
        run = (src / info["source_run"]).resolve()
        info["source_run"] = os.path.relpath(run, dst)
        info_path.write_text(json.dumps(info, indent=2))
    return dst


@pytest.fixture(scope="session")
def copy_export_fn():
    return copy_export
