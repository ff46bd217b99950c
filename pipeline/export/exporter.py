"""``rnnx export``: turn ``saved_models/NAME`` into ``export/NAME``.

Engines are found in :data:`ENGINES`. ``auto`` takes the fused exporter when it
covers every layer of the model and tf2onnx otherwise, saying why. Every engine
returns an unfinalised ``onnx.ModelProto``; :func:`export_run` applies the ONNX
contract (:func:`pipeline.export.contract.finalize`) to it exactly once.

``export/NAME/`` holds ``model.onnx``, ``vocab.json``, ``labels.json``,
``export.json`` (what was exported, by which engine, from which run), the
deployment variants of :mod:`pipeline.export.deploy` (``model.text.onnx`` and,
on request, int8 and ORT-format files) and a model card ``README.md``; ``rnnx
check`` adds ``parity.json``, ``rnnx bench`` adds ``bench.json``. The folder is
assembled under ``export/NAME.partial`` and renamed when complete.

Example::

    export_run("saved_models/pos", engine="auto")   # -> Path("export/pos")
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.artifacts import check_name, check_target, replace_dir, staging_dir, target_lock, write_json
from pipeline.data.fetch import sha256_file
from pipeline.errors import ConfigError, ExportError
from pipeline.export.contract import INPUT_NAME, IR_VERSION, OPSET, OUTPUT_NAME, finalize
from pipeline.export.spellings import DEFAULT_CHAR_CACHE, training_spellings


def _tf2onnx(run, char_spellings=()):
    from pipeline.export.tf2onnx_export import export_tf2onnx

    if _structured(run.model_config):
        raise ExportError(f"{run.files.root} has {_structured(run.model_config)}: the tf2onnx engine exports "
                          "word-level softmax models only; use --engine fused (or auto)")
    return export_tf2onnx(run.model, keras_path=run.files.model)


def _fused(run, char_spellings=()):
    from pipeline.export.fused import convert

    return convert(run.model, char_spellings=char_spellings)


def _fused_gaps(run) -> list[str]:
    try:
        from pipeline.export.fused import unsupported_layers
    except ImportError as exc:  # the fused converter is optional at import time
        return [f"fused converter unavailable ({exc})"]
    return unsupported_layers(run.model)


#: engine name -> ``(run, char_spellings) -> onnx.ModelProto`` (not finalized: :func:`export_run` finalizes once, for every engine)
ENGINES: dict[str, Callable] = {"fused": _fused, "tf2onnx": _tf2onnx}


def tokenizer_settings(vocab) -> dict:
    """How raw text must be split to match the training tokens.

    Corpora that split contractions (``do n't``, ``John 's``: Penn Treebank, UD)
    leave ``n't``/``'s`` in the vocabulary; the Brown corpus keeps ``don't`` whole.
    """
    return {"contractions": any(w in vocab for w in ("n't", "'s", "'re", "'ll"))}


@dataclass
class ExportResult:
    folder: Path
    engine: str
    note: str = ""


def _structured(cfg) -> str:
    """What makes a model more than ids -> softmax (character input, CRF decoding), or ``""``."""
    parts = ((["character features"] if cfg.chars else []) + (["character-LM features"] if cfg.lm else [])
             + (["a CRF output layer"] if cfg.crf else []))
    return " and ".join(parts)


def choose_engine(run, engine: str) -> tuple[str, str]:
    """The engine to use and a one-line reason when ``auto`` fell back."""
    if engine == "auto":
        gaps = _fused_gaps(run)
        if not gaps:
            return "fused", ""
        if _structured(run.model_config):
            raise ExportError(f"{run.files.root} has {_structured(run.model_config)}, which only the fused "
                              f"exporter writes, and it does not cover: {', '.join(gaps)}")
        return "tf2onnx", f"fused exporter does not cover: {', '.join(gaps)}; using tf2onnx"
    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine!r} is not known; choose auto, {', '.join(ENGINES)}")
    if engine == "fused":
        gaps = _fused_gaps(run)
        if gaps:
            raise ExportError(f"--engine fused cannot export {run.files.root}: no converter for {gaps[0]}; "
                              "use --engine tf2onnx or auto")
    return engine, ""


def model_metadata(run, engine: str) -> dict[str, object]:
    cfg = run.model_config
    return {
        "task": cfg.task,
        "cell": cfg.cell,
        "bidirectional": cfg.bidirectional,
        "layers": cfg.layers,
        "labels": run.labels.names,
        "vocab_size": run.vocab.size,
        "vocab_sha256": run.vocab.sha256(),
        **({"chars_sha256": _chars_sha256(run)} if run.model_config.chars else {}),
        **({"lm_chars_sha256": _lm_chars_sha256(run)} if run.model_config.lm else {}),
        "lowercase": run.vocab.lowercase,
        "padding": "right, id 0; unknown word id 1",
        "tokenizer": tokenizer_settings(run.vocab),
        "engine": engine,
        "source_run": run.config.get("name", run.files.root.name),
    }


def _chars_sha256(run) -> str:
    from pipeline.artifacts import read_json
    from pipeline.data.chars import CharVocab

    return CharVocab.from_json(read_json(run.files.chars)).sha256()


def _lm_chars_sha256(run) -> str:
    from pipeline.artifacts import read_json
    from pipeline.data.lm_text import LMChars

    return LMChars.from_json(read_json(run.files.lm_chars)).sha256()


def input_specs(cfg) -> list[dict]:
    """The graph inputs a model of ``cfg`` reads, in order."""
    specs = [{"name": INPUT_NAME, "dtype": "int64", "shape": ["batch", "time"], "padding": "right, 0",
              "what": "word ids from vocab.json (1 = unknown word)"}]
    if cfg.chars:
        specs.append({"name": "chars", "dtype": "int64", "shape": ["batch", "time", "chars"], "padding": "right, 0",
                      "what": "each word's character ids from chars.json (1 = unknown character); rows of a "
                              "padding word are all 0; words longer than max_word_chars keep their first and "
                              "last max_word_chars/2 characters"})
    if cfg.lm:
        specs += [
            {"name": "lm_chars", "dtype": "int64", "shape": ["batch", "sentence_chars"], "padding": "right, 0",
             "what": "the sentence as the character LM reads it: its tokens joined by single spaces, with a space "
                     "before the first and after the last, as character ids from lm_chars.json (1 = unknown "
                     "character); never truncated"},
            {"name": "lm_starts", "dtype": "int64", "shape": ["batch", "time"], "padding": "right, 0",
             "what": "position in lm_chars of each token's first character (0 marks a padding token)"},
            {"name": "lm_ends", "dtype": "int64", "shape": ["batch", "time"], "padding": "right, 0",
             "what": "position in lm_chars of each token's last character"},
        ]
    return specs


def output_specs(cfg) -> list[dict]:
    """The graph outputs a model of ``cfg`` writes, in order."""
    shape = ["batch", "time", "labels"] if cfg.task == "tagging" else ["batch", "labels"]
    specs = [{"name": OUTPUT_NAME, "dtype": "float32", "shape": shape, "what": "label probabilities"}]
    if cfg.crf:
        specs[0]["what"] = "per-token label probabilities before the CRF (the CRF's emission scores are their logs)"
        specs.append({"name": "tags", "dtype": "int64", "shape": ["batch", "time"],
                      "what": "the CRF's best tag sequence (Viterbi), label ids; 0 at padding"})
    return specs


STREAM_FILE = "model.stream.onnx"
#: files beside model.onnx that the model reads through; bound to it by checksum (export.json, ONNX metadata)
DEPENDENT_FILES = ("vocab.json", "labels.json", "chars.json", "lm_chars.json")


def _stream_model(run, char_spellings=()):
    """``model.stream.onnx`` of a run (finalized), or an error naming what keeps the model from streaming."""
    from pipeline.export.fused import convert, unsupported_layers

    problems = unsupported_layers(run.model, io="rnnx", streaming=True)
    if problems:
        raise ConfigError(f"--streaming: {run.files.root} cannot stream: {problems[0]}; export without --streaming")
    proto = convert(run.model, io="rnnx", streaming=True, char_spellings=char_spellings)
    return finalize(proto, {**model_metadata(run, "fused"), "streaming": True})


def stream_spec(proto) -> dict:
    """The state inputs a stream model reads (name and size), for export.json and the runtimes."""
    states = [i for i in proto.graph.input if i.name.startswith("state_in.")]
    return {"file": STREAM_FILE, "states": [{"name": i.name, "units": i.type.tensor_type.shape.dim[1].dim_value}
                                            for i in states],
            "outputs": [o.name for o in proto.graph.output if not o.name.startswith("state_out.")]}


def export_run(
    run_path: Path | str, *, out_root: Path | str = "export", engine: str = "auto", name: str | None = None,
    force: bool = False, text: bool = True, quantize: str | None = None, ort: bool = False, streaming: bool = False,
    char_cache: int = DEFAULT_CHAR_CACHE,
) -> ExportResult:
    """Export a run; ``text``/``quantize``/``ort`` add the deployment variants
    (:mod:`pipeline.export.deploy`) before the folder is moved into place; ``streaming``
    adds ``model.stream.onnx`` (one chunk of tokens per call, recurrent state in and out;
    :mod:`pipeline.export.fused.streaming`). ``char_cache``: for character-CNN models, how many
    of the most frequent training spellings get their character vectors precomputed
    into the fused graph (:mod:`pipeline.export.fused.char_cache`; 0: none).

    ``out_root/name`` is written only when it is new, or an rnnx export (its
    ``.rnnx-export`` marker) and ``force`` is given; one process at a time writes it.
    """
    from pipeline.train.rundir import load_run

    run = load_run(run_path)
    name = check_name(name or run.files.root.name)
    final = check_target(Path(out_root) / name, "export", force)
    if char_cache < 0:
        raise ConfigError(f"--char-cache {char_cache}: give a number of spellings, 0 or more (0 turns the cache off)")
    with target_lock(final):
        check_target(final, "export", force)
        staging = staging_dir(final, "export")
        try:
            chosen, note = _export_into(staging, run, name, engine=engine, text=text, quantize=quantize, ort=ort,
                                        streaming=streaming, char_cache=char_cache)
            replace_dir(staging, final, kind="export", force=force)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(final, chosen, note)


def _export_into(staging: Path, run, name: str, *, engine: str, text: bool, quantize, ort: bool,
                 streaming: bool, char_cache: int) -> tuple[str, str]:
    """Write every file of the export of ``run`` into ``staging``; the engine used and its note."""
    structured = _structured(run.model_config)
    text_note = ""
    if structured and text:
        text = False
        text_note = (f"no model.text.onnx: the model has {structured}; standard ONNX has no operator that splits "
                     "a string into characters, and the text front end reads probs, not CRF tags. Feed "
                     "model.onnx from the runtime (pipeline.runtime), which encodes words and characters.")
    chosen, note = choose_engine(run, engine)
    spellings, cache_note = training_spellings(run, char_cache if chosen == "fused" else 0)
    stream = _stream_model(run, spellings) if streaming else None
    proto = ENGINES[chosen](run, spellings)
    finalize(proto, model_metadata(run, chosen))

    import onnx

    onnx.save(proto, staging / "model.onnx")  # the whole staging folder is renamed into place at the end
    if stream is not None:
        onnx.save(stream, staging / STREAM_FILE)
    shutil.copy2(run.files.vocab, staging / "vocab.json")
    shutil.copy2(run.files.labels, staging / "labels.json")
    if run.model_config.chars:
        shutil.copy2(run.files.chars, staging / "chars.json")
    if run.model_config.lm:
        shutil.copy2(run.files.lm_chars, staging / "lm_chars.json")
    write_json(staging / "export.json", {
        "name": name,
        "source_run": _relative(run.files.root, staging),
        "source_run_name": run.files.root.name,
        "task": run.task,
        "model": run.model_config.to_json(),
        "engine": chosen,
        "engine_note": note,
        "opset": OPSET,
        "ir_version": IR_VERSION,
        "input": {"name": INPUT_NAME, "dtype": "int64", "shape": ["batch", "time"], "padding": "right, 0"},
        "output": {"name": OUTPUT_NAME, "dtype": "float32",
                   "shape": ["batch", "time", "labels"] if run.task == "tagging" else ["batch", "labels"]},
        "inputs": input_specs(run.model_config),
        "outputs": output_specs(run.model_config),
        "text_note": text_note,
        "char_cache": {"spellings": len(spellings), "note": cache_note} if run.model_config.chars else None,
        "files": {f: (staging / f).stat().st_size for f in ("model.onnx", STREAM_FILE) if (staging / f).exists()},
        "streaming": stream_spec(stream) if stream is not None else None,
        "data": {k: run.config.get(k) for k in ("data", "data_format", "column", "test")},
        "tokenizer": tokenizer_settings(run.vocab),
        "files_sha256": {f: sha256_file(staging / f) for f in DEPENDENT_FILES if (staging / f).exists()},
    })
    from pipeline.export.deploy import add_deploy_artifacts
    from pipeline.export.modelcard import write_model_card

    add_deploy_artifacts(staging, text=text, quantize=quantize, ort=ort)
    write_model_card(staging)
    return chosen, note


def _relative(run_root: Path, staging: Path) -> str:
    """The run folder as seen from the export folder (it sits where ``staging`` sits), so a copied pair of
    folders still finds each other; an absolute path where no relative one exists."""
    import os

    try:
        return os.path.relpath(run_root.resolve(), staging.parent.resolve() / "_")
    except ValueError:  # another drive (Windows)
        return str(run_root.resolve())
