"""The ONNX Runtime path on a real classifier: answers, empty texts, wrong shapes."""

import numpy as np
import pytest

from pipeline.errors import RnnxError


@pytest.fixture(scope="module")
def classifier_export(tmp_path_factory, mr_files):
    from pipeline.export.exporter import export_run
    from pipeline.models import ModelConfig
    from pipeline.train.fit import RunSpec, TrainOptions, train

    root = tmp_path_factory.mktemp("clf")
    spec = RunSpec(name="sent", data=str(mr_files["train"]), dev=str(mr_files["dev"]), test=str(mr_files["test"]),
                   model=ModelConfig("classification", "lstm", bidirectional=False, units=12, embedding_dim=12),
                   options=TrainOptions(epochs=1, verbose=0))
    run = train(spec, root=root / "saved_models")
    return export_run(run, out_root=root / "export").folder


@pytest.mark.slow
def test_classifier_predicts_probabilities(classifier_export):
    from pipeline.runtime.session import Classifier, load

    model = load(classifier_export)
    assert isinstance(model, Classifier)
    (label, probs), = model.predict(["a gorgeous , moving film ."])
    assert label in ("neg", "pos")
    assert set(probs) == {"neg", "pos"} and abs(sum(probs.values()) - 1) < 1e-5
    assert probs[label] == max(probs.values())


@pytest.mark.slow
def test_classifier_rejects_empty_text(classifier_export):
    from pipeline.runtime.session import load

    with pytest.raises(RnnxError, match="text 2 is empty"):
        load(classifier_export).predict(["fine", "   "])


@pytest.mark.slow
def test_run_ids_rejects_wrong_shapes(classifier_export):
    from pipeline.runtime.session import load

    model = load(classifier_export)
    with pytest.raises(RnnxError, match="2-D"):
        model.run_ids(np.array([1, 2, 3]))
    assert model.run_ids(np.array([[2, 3, 0]])).shape == (1, 2)


def test_missing_export_folder_is_named(tmp_path):
    from pipeline.runtime.session import load

    with pytest.raises(RnnxError, match="nothing"):
        load(tmp_path / "nothing")
