"""Integration: each of the 12 task x cell x direction combinations is trained
briefly on real sentences, saved, exported, and checked for parity."""

import json

import numpy as np
import onnx
import pytest

from pipeline.errors import ConfigError
from pipeline.export.exporter import export_run
from pipeline.check.parity import check_export
from pipeline.models import CELLS, ModelConfig
from pipeline.train.fit import RunSpec, TrainOptions, train

COMBOS = [(task, cell, bi) for task in ("tagging", "classification") for cell in CELLS for bi in (False, True)]


def small_spec(name, files, task, cell="lstm", bi=True, epochs=1, **opts):
    return RunSpec(
        name=name, data=str(files["train"]), dev=str(files["dev"]), test=str(files["test"]),
        model=ModelConfig(task, cell, bidirectional=bi, units=16, embedding_dim=16, dropout=0.1),
        options=TrainOptions(epochs=epochs, batch_size=32, verbose=0, **opts),
    )


@pytest.mark.slow
@pytest.mark.parametrize("task,cell,bi", COMBOS, ids=[f"{t}-{'bi' if b else ''}{c}" for t, c, b in COMBOS])
def test_train_export_check(tmp_path, corpus_files, task, cell, bi):
    name = f"{task}-{cell}-{int(bi)}"
    run = train(small_spec(name, corpus_files[task], task, cell, bi), root=tmp_path / "saved_models")
    for f in ("model.keras", "vocab.json", "labels.json", "config.json", "metrics.json", "history.csv",
              "training_curve.png", "test_confusion.png"):
        assert (run / f).exists(), f
    assert not (tmp_path / "saved_models" / f"{name}.partial").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0

    result = export_run(run, out_root=tmp_path / "export", engine="auto")
    model = onnx.load(result.folder / "model.onnx")
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["task"] == task and meta["cell"] == cell
    assert json.loads(meta["labels"]) == json.loads((run / "labels.json").read_text())["labels"]
    assert model.ir_version == 8 and model.opset_import[0].version == 17

    report = check_export(result.folder, random_count=3)
    assert report["passed"]
    assert report["heldout"]["max_abs_diff"] <= 1e-4
    assert report["heldout"]["sequences"] == 120 if task == "tagging" else 150
    assert report["random"]["positions"] > 0
    saved = json.loads((result.folder / "parity.json").read_text())["model.onnx"]
    assert saved["heldout"]["accuracy"]["keras"] == pytest.approx(metrics["test"]["accuracy"])


@pytest.mark.slow
def test_tf2onnx_engine_passes_parity(tmp_path, brown_files):
    run = train(small_spec("gru", brown_files, "tagging", "gru", True), root=tmp_path / "sm")
    result = export_run(run, out_root=tmp_path / "ex", engine="tf2onnx")
    assert result.engine == "tf2onnx"
    nodes = {n.op_type for n in onnx.load(result.folder / "model.onnx").graph.node}
    assert "Loop" in nodes or "Scan" in nodes  # what the reference path makes of a masked GRU
    assert check_export(result.folder, random_count=2)["passed"]


@pytest.mark.slow
def test_refuses_overwrite_and_resumes(tmp_path, brown_files):
    root = tmp_path / "saved_models"
    spec = small_spec("pos", brown_files, "tagging", "simplernn", False)
    train(spec, root=root)
    with pytest.raises(ConfigError, match="--force"):
        train(spec, root=root)
    # an interrupted run: its (marked) staging folder exists; without --resume/--force we refuse
    from pipeline.artifacts import write_marker

    (root / "pos2.partial").mkdir()
    write_marker(root / "pos2.partial", "run", name="pos2")
    spec2 = small_spec("pos2", brown_files, "tagging", "simplernn", False)
    with pytest.raises(ConfigError, match="--resume"):
        train(spec2, root=root)
    run = train(spec2, root=root, resume=True)
    assert (run / "model.keras").exists()
    first = (root / "pos" / "model.keras").stat().st_mtime_ns
    train(spec, root=root, force=True)
    assert (root / "pos" / "model.keras").stat().st_mtime_ns != first


@pytest.mark.slow
def test_resume_continues_epochs_after_interruption(tmp_path, brown_files):
    """Kill training after epoch 1 (a callback raises), then --resume finishes the remaining epochs."""
    import keras

    from pipeline.train import fit

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    original = fit._callbacks
    fit._callbacks = lambda *a: original(*a) + [Boom()]
    spec = small_spec("interrupted", brown_files, "tagging", "gru", False, epochs=3, patience=5)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(spec, root=tmp_path)
    finally:
        fit._callbacks = original
    assert (tmp_path / "interrupted.partial").exists()
    assert not (tmp_path / "interrupted").exists()  # nothing that looks complete
    run = train(spec, root=tmp_path, resume=True)
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 3  # epoch 1 from before, epochs 2-3 after resuming


@pytest.mark.slow
def test_mixed_precision_run_saves_float32_and_passes_parity(tmp_path, brown_files):
    import keras

    try:
        run = train(small_spec("mp", brown_files, "tagging", "lstm", True, mixed_precision="float16"), root=tmp_path)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model = keras.saving.load_model(run / "model.keras", compile=False)
    assert all(layer.dtype_policy.name == "float32" for layer in model.layers if hasattr(layer, "dtype_policy"))
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["mixed_precision"] == "float16"
    result = export_run(run, out_root=tmp_path / "export")
    assert check_export(result.folder, random_count=2)["passed"]
