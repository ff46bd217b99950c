"""The application runtime: one session shared by 8 threads, and no TensorFlow or Keras ever loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest


THREADS, CALLS = 8, 200


@pytest.fixture(scope="module")
def tagger_folder(tmp_path_factory, corpus_files, trained_export, copy_export_fn):
    from pipeline.export.textmodel import write_text_models

    folder = copy_export_fn(trained_export("tagger"), tmp_path_factory.mktemp("rt"))
    write_text_models(folder)
    return folder


@pytest.fixture(scope="module")
def sentences(corpus_files):
    from pipeline.data.readers import read_file

    return [s for s in read_file(corpus_files["tagging"]["test"]).tokens if s][:50]


def hammer(call, inputs, expected, same) -> int:
    """``THREADS`` threads, ``CALLS`` calls each, every call on a different input; count wrong answers."""

    def worker(t: int) -> int:
        wrong = 0
        for i in range(CALLS):
            k = (t * 7 + i) % len(inputs)
            if not same(call(inputs[k]), expected[k]):
                wrong += 1
        return wrong

    with ThreadPoolExecutor(THREADS) as pool:
        return sum(pool.map(worker, range(THREADS)))


@pytest.mark.slow
def test_tagger_session_is_safe_from_8_threads(tagger_folder, sentences):
    from pipeline.runtime.session import Tagger

    tagger = Tagger.load(tagger_folder)
    batches = [[s] for s in sentences] + [sentences[i:i + 5] for i in range(0, 40, 5)]
    expected = [tagger.probs_tokens(b) for b in batches]

    def same(got, want):
        return all(np.array_equal(g, w) for g, w in zip(got, want)) and len(got) == len(want)

    assert hammer(tagger.probs_tokens, batches, expected, same) == 0
    tags = [tagger.predict_tokens(b) for b in batches]
    assert hammer(tagger.predict_tokens, batches, tags, lambda a, b: a == b) == 0


@pytest.mark.slow
def test_text_model_session_is_safe_from_8_threads(tagger_folder, sentences):
    from pipeline.runtime.text import TextModel

    model = TextModel.load(tagger_folder / "model.text.onnx")
    batches = [[s] for s in sentences]
    expected = [model.run_tokens(b) for b in batches]

    def same(got, want):
        return all(np.array_equal(g["probs"], w["probs"]) and (g["tags"] == w["tags"]).all() for g, w in zip(got, want))

    assert hammer(model.run_tokens, batches, expected, same) == 0


BLOCKER = textwrap.dedent("""
    import sys

    class Blocker:
        BLOCKED = ("tensorflow", "keras", "tf2onnx", "tf_keras", "jax", "torch")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError(f"{name} is blocked: the runtime must not import it")
            return None

    sys.meta_path.insert(0, Blocker())
""")


def run_blocked(code: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, cwd=root)


def test_import_blocker_really_blocks():
    result = run_blocked("import tensorflow\n")
    assert result.returncode != 0 and "tensorflow is blocked" in result.stderr


@pytest.mark.slow
def test_runtime_never_imports_tensorflow_or_keras(tagger_folder):
    result = run_blocked(f"""
        import sys
        from pipeline.runtime.session import Tagger, load
        from pipeline.runtime.text import TextModel

        folder = {str(tagger_folder)!r}
        print(load(folder).predict(["The jury said it did not find any evidence ."])[0][:3])
        print(Tagger.load(folder).predict_tokens([["They", "are", "early", "birds", "."]]))
        text = TextModel.load(folder + "/model.text.onnx")
        print(text.predict(["They are early birds."]))
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "onnx"))
        print("HEAVY", heavy)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY []" in result.stdout
    assert "('The'," in result.stdout
