"""A Keras callback that exports a user's model to ONNX when ``model.fit`` ends, and proves it.

At the start of training it asks the fused exporter whether every layer converts,
so a model that cannot be exported fails before hours of training rather than
after, and refuses a ``saved_models/NAME`` that holds anything but its own
``model.keras`` (an rnnx run of that name, a user's folder). At the end it saves ``saved_models/NAME/model.keras``, writes
``export/NAME/`` (:func:`~pipeline.export.keras_file.export_keras_file`) and
checks parity (:func:`~pipeline.check.keras_export.check_keras_export`, written
to ``parity.json``); a failed check raises :class:`~pipeline.errors.ParityError`.

Example::

    from pipeline.check.callback import ExportToOnnx

    model.fit(x, y, epochs=10, callbacks=[ExportToOnnx("forecast", sample="held_out.npz")])
    # -> saved_models/forecast/model.keras, export/forecast/{model.onnx, export.json, parity.json}
"""

from __future__ import annotations

from pathlib import Path

import keras

from pipeline.errors import ConfigError, ExportError, ParityError


class ExportToOnnx(keras.callbacks.Callback):
    """Export and check the model at the end of ``fit``.

    ``name``: the folder name under ``out`` (``export/``) and ``saved_models``
    (``saved_models/``). ``sample``: a ``.npz`` of real inputs to compare on
    (one array per model input, by name). ``masks``: see
    :func:`pipeline.export.to_onnx`.
    """

    def __init__(self, name: str, *, out: str | Path = "export", saved_models: str | Path = "saved_models",
                 sample: str | Path | None = None, masks: str = "exact", verbose: bool = True):
        super().__init__()
        self.name, self.out, self.saved_models = name, Path(out), Path(saved_models)
        self.sample, self.masks, self.verbose = sample, masks, verbose
        self.report: dict | None = None

    def on_train_begin(self, logs=None):
        from pipeline.export.fused import unsupported_layers

        problems = unsupported_layers(self.model, io="keras", masks=self.masks)
        if problems:
            raise ExportError(f"ExportToOnnx: the model cannot be exported to fused ONNX: {problems[0]}; "
                              "fix it before training (or remove the callback)")
        folder = self.saved_models / self.name
        if folder.exists() and {p.name for p in folder.iterdir()} - {"model.keras"}:
            raise ConfigError(f"ExportToOnnx: {folder} holds other files (an rnnx run or your own); the callback "
                              "writes only model.keras there: choose another name")

    def on_train_end(self, logs=None):
        from pipeline.check.keras_export import check_keras_export, format_keras_parity
        from pipeline.export.keras_file import export_keras_file

        keras_file = self.saved_models / self.name / "model.keras"
        keras_file.parent.mkdir(parents=True, exist_ok=True)
        partial = keras_file.with_name("model.partial.keras")
        self.model.save(partial)
        partial.replace(keras_file)
        result = export_keras_file(keras_file, out_root=self.out, name=self.name, force=True, masks=self.masks,
                                   model=self.model)
        self.report = check_keras_export(result.folder, sample=self.sample)
        if self.verbose:
            print(f"ExportToOnnx: {result.folder}/model.onnx\n{format_keras_parity(self.report)}")
        if not self.report["passed"]:
            raise ParityError(f"{result.folder}/model.onnx fails parity with Keras: "
                              + "; ".join(self.report["failures"][:3]) + f" (all in {result.folder}/parity.json)")
