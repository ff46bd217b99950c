"""A user's own Keras model: export folder, parity on generated and sample inputs, bench, end-of-fit callback."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from pipeline.check.generated import input_kinds, make_batch, standard_batches, step_mask  # noqa: E402
from pipeline.check.keras_export import bench_keras_export, check_keras_export, is_keras_export  # noqa: E402
from pipeline.check.keras_model import check_keras_model  # noqa: E402
from pipeline.errors import ConfigError, DataError, ExportError  # noqa: E402
from pipeline.export import to_onnx  # noqa: E402
from pipeline.export.keras_file import export_keras_file  # noqa: E402


def sensor_model():
    """Two inputs (int32 device ids, float frames), a masked BiLSTM, two outputs."""
    device = keras.Input((None,), dtype="int32", name="device")
    frames = keras.Input((None, 3), name="frames")
    x = keras.layers.Concatenate()([keras.layers.Embedding(12, 2, mask_zero=True)(device), frames])
    seq = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), name="states")(x)
    score = keras.layers.Dense(2, activation="softmax", name="score")(keras.layers.GRU(3)(seq))
    return keras.Model([device, frames], [score, seq])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    keras.utils.set_random_seed(0)
    model = sensor_model()
    model.save(folder / "sensor.keras")
    return folder, model


def test_generated_batches_follow_the_layers_that_read_each_input(saved):
    _, model = saved
    kinds = {k.name: k for k in input_kinds(model)}
    assert kinds["device"].vocab == 12 and kinds["device"].pad_id == 0 and kinds["frames"].mask_value is None
    batch = make_batch(model, batch=5, time=8, padding="holes", seed=3)
    assert batch["device"].dtype == np.int32 and batch["frames"].shape == (5, 8, 3)
    real = batch["device"] != 0
    assert real[0].all() and not real[-1].any() and not real.all()
    assert {d.split(", ")[-1] for d, _ in standard_batches(model)} >= {"right padding", "left padding",
                                                                        "holes padding", "empty padding"}


@pytest.mark.parametrize("padding", ["right", "left", "holes"])
def test_step_masks_have_the_padding_they_name(padding):
    m = step_mask(np.random.default_rng(0), 6, 9, padding)
    lengths = m.sum(1)
    assert lengths[0] == 9 and lengths[-1] == 0
    if padding == "right":
        assert all(m[i, :n].all() for i, n in enumerate(lengths))
    if padding == "left":
        assert all(m[i, 9 - n:].all() for i, n in enumerate(lengths))


def test_export_folder_names_inputs_and_outputs_as_keras_and_check_passes(saved, tmp_path):
    folder, model = saved
    result = export_keras_file(folder / "sensor.keras", out_root=tmp_path / "export")
    info = json.loads((result.folder / "export.json").read_text())
    assert is_keras_export(result.folder) and info["engine"] == "fused"
    assert [i["name"] for i in info["inputs"]] == ["device", "frames"]
    assert [i["dtype"] for i in info["inputs"]] == ["int32", "float32"]
    assert [o["name"] for o in info["outputs"]] == ["score", "states"]
    report = check_keras_export(result.folder)
    assert report["passed"] and report["max_abs_diff"] < 1e-5, report["failures"]
    assert json.loads((result.folder / "parity.json").read_text())["passed"] is True


def test_check_reads_a_users_sample_and_rejects_one_that_does_not_fit(saved, tmp_path):
    folder, model = saved
    result = export_keras_file(folder / "sensor.keras", out_root=tmp_path)
    device = np.array([[0, 0, 3, 4], [5, 0, 6, 0]], np.int32)  # left padding and a hole
    np.savez(tmp_path / "sample.npz", device=device, frames=np.ones((2, 4, 3), np.float32))
    report = check_keras_export(result.folder, sample=tmp_path / "sample.npz")
    assert report["passed"] and report["sample_rows"] == 2
    np.savez(tmp_path / "wrong.npz", ids=device)
    with pytest.raises(DataError, match=r"wrong.npz holds \['ids'\]; the model reads \['device', 'frames'\]"):
        check_keras_export(result.folder, sample=tmp_path / "wrong.npz")


def test_parity_fails_when_the_onnx_model_is_not_the_keras_model(saved):
    _, model = saved
    proto = to_onnx(model)
    for init in proto.graph.initializer:  # perturb the GRU weights by 1%
        if "gru" in init.name.lower() and init.dims and init.data_type == 1:
            values = np.frombuffer(init.raw_data, np.float32) * 1.01
            init.raw_data = values.astype(np.float32).tobytes()
    report = check_keras_model(model, proto)
    assert not report["passed"] and any("output score" in f for f in report["failures"])


def test_a_changed_keras_file_is_not_compared_silently(saved, tmp_path):
    folder, model = saved
    path = tmp_path / "copy.keras"
    model.save(path)
    result = export_keras_file(path, out_root=tmp_path / "export")
    sensor_model().save(path)  # new random weights
    with pytest.raises(DataError, match="changed since"):
        check_keras_export(result.folder)


def test_refused_models_write_nothing_and_folders_not_ours_are_kept(tmp_path):
    x = keras.Input((None, 3), name="x")
    model = keras.Model(x, keras.layers.LSTM(2, activation="gelu", name="gelu_lstm")(x))
    model.save(tmp_path / "odd.keras")
    with pytest.raises(ExportError, match=r"gelu_lstm \(LSTM: activation"):
        export_keras_file(tmp_path / "odd.keras", out_root=tmp_path / "export")
    assert not (tmp_path / "export").exists() or not any((tmp_path / "export").iterdir())
    mine = tmp_path / "export" / "odd"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    ok = keras.Model(x, keras.layers.LSTM(2)(x))
    ok.save(tmp_path / "odd.keras")
    with pytest.raises(ConfigError, match="not an rnnx export folder"):
        export_keras_file(tmp_path / "odd.keras", out_root=tmp_path / "export", force=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(ConfigError, match="plain folder name"):
        export_keras_file(tmp_path / "odd.keras", out_root=tmp_path / "export", name="../escape")


def test_bench_writes_latency_rows(saved, tmp_path):
    folder, _ = saved
    result = export_keras_file(folder / "sensor.keras", out_root=tmp_path)
    report = bench_keras_export(result.folder, calls=3)
    assert [(r["batch"], r["steps"]) for r in report["rows"]] == [(1, 25), (32, 25)]
    assert all(r["ort_1_thread"] > 0 and r["keras_tf_function"] > 0 for r in report["rows"])
    assert (result.folder / "bench.json").is_file()


def test_callback_exports_and_checks_at_the_end_of_fit(tmp_path):
    from pipeline.check.callback import ExportToOnnx

    keras.utils.set_random_seed(1)
    x = keras.Input((None, 2), name="x")
    model = keras.Model(x, keras.layers.Dense(1, name="y")(keras.layers.GRU(4)(keras.layers.Masking()(x))))
    model.compile("adam", "mse")
    data = np.random.default_rng(0).normal(size=(16, 5, 2)).astype(np.float32)
    data[:4, :2] = 0.0  # left-padded rows, as keras.utils.pad_sequences writes them
    callback = ExportToOnnx("fit", out=tmp_path / "export", saved_models=tmp_path / "saved", verbose=False)
    model.fit(data, data[:, 0, :1], epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    assert callback.report["passed"] and (tmp_path / "export" / "fit" / "model.onnx").is_file()
    assert (tmp_path / "saved" / "fit" / "model.keras").is_file()


def test_callback_refuses_an_unexportable_model_before_training(tmp_path):
    from pipeline.check.callback import ExportToOnnx

    x = keras.Input((None, 2), name="x")
    model = keras.Model(x, keras.layers.LSTM(2)(keras.layers.Lambda(lambda t: -t, name="negate")(x)))
    model.compile("adam", "mse")
    data = np.zeros((4, 3, 2), np.float32)
    with pytest.raises(ExportError, match="before training"):
        model.fit(data, np.zeros((4, 2)), epochs=1, verbose=0,
                  callbacks=[ExportToOnnx("no", out=tmp_path, saved_models=tmp_path)])


def test_a_streaming_export_is_checked_chunk_by_chunk_against_keras(tmp_path):
    keras.utils.set_random_seed(3)
    frames = keras.Input((None, 3), name="frames")
    h = keras.layers.GRU(4, return_sequences=True, name="gru")(keras.layers.Masking()(frames))
    model = keras.Model(frames, [keras.layers.Dense(2, name="per_frame")(h),
                                 keras.layers.Dense(1, name="last")(keras.layers.LSTM(3, name="lstm")(h))])
    model.save(tmp_path / "kws.keras")
    result = export_keras_file(tmp_path / "kws.keras", out_root=tmp_path / "export", streaming=True)
    info = json.loads((result.folder / "export.json").read_text())
    assert info["streaming"]["file"] == "model.stream.onnx"
    assert {i["name"] for i in info["streaming"]["inputs"]} >= {"frames", "state_in.gru.h", "state_in.lstm.c"}
    report = check_keras_export(result.folder)
    assert report["passed"] and report["stream"]["passed"], report["failures"]
    assert report["stream"]["chunks"] == [1, 3] and report["stream"]["max_abs_diff"] < 1e-5


def test_rnnx_export_check_and_bench_commands_on_a_keras_file(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    keras.utils.set_random_seed(2)
    x = keras.Input((None, 4), name="frames")
    model = keras.Model(x, keras.layers.Dense(3, name="scores")(keras.layers.GRU(5)(keras.layers.Masking()(x))))
    model.save(tmp_path / "kws.keras")
    np.savez(tmp_path / "held.npz", frames=np.random.default_rng(0).normal(size=(5, 7, 4)).astype(np.float32))
    monkeypatch.chdir(tmp_path)
    assert main(["export", "kws.keras", "--streaming", "--sample", "held.npz"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "model.stream.onnx fed in chunks of 1, 3" in out
    assert (tmp_path / "export" / "kws" / "model.stream.onnx").is_file()
    assert main(["check", "export/kws", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True
    assert main(["bench", "export/kws"]) == 0 and "Keras tf.function" in capsys.readouterr().out
    assert main(["export", "kws.keras"]) == 2  # exists: --force needed
    assert "pass --force" in capsys.readouterr().err


def test_callback_never_writes_into_a_folder_it_does_not_own(tmp_path):
    from pipeline.check.callback import ExportToOnnx

    run = tmp_path / "saved" / "pos"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    x = keras.Input((None, 2), name="x")
    model = keras.Model(x, keras.layers.GRU(2)(x))
    model.compile("adam", "mse")
    with pytest.raises(ConfigError, match="holds other files"):
        model.fit(np.zeros((2, 3, 2), np.float32), np.zeros((2, 2)), epochs=1, verbose=0,
                  callbacks=[ExportToOnnx("pos", out=tmp_path / "export", saved_models=tmp_path / "saved")])
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]
