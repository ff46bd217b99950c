"""pipeline.scoring: numpy only, and the one place predictions are decoded and scored."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np

from pipeline.scoring.accuracy import accuracy, correct_counts
from pipeline.scoring.decode import argmax_labels, viterbi, viterbi_labels

SCORING = Path(__file__).resolve().parent.parent / "pipeline" / "scoring"
ALLOWED = {"numpy", "pipeline.errors"}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module)
    return out


def test_scoring_imports_only_numpy_and_the_standard_library():
    for path in sorted(SCORING.glob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            ok = (top in sys.stdlib_module_names or name in ALLOWED or top == "numpy"
                  or name.startswith("pipeline.scoring"))
            assert ok, f"{path.name} imports {name}; pipeline.scoring may import numpy and the standard library only"


def test_scoring_loads_no_framework():
    code = ("import sys, pipeline.scoring.metrics, pipeline.scoring.decode, pipeline.scoring.accuracy; "
            "bad = [m for m in ('tensorflow', 'keras', 'onnx', 'onnxruntime', 'matplotlib') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_accuracy_matches_counting_by_hand():
    gold = [["A", "B", "C"], ["A"]]
    pred = [["A", "C", "C"], ["B"]]
    assert accuracy(gold, pred) == 2 / 4
    assert accuracy(gold, pred, keep=[[True, False, False], [True]]) == 1 / 2
    assert accuracy([], []) == 0.0 and accuracy([], [], empty=None) is None
    assert accuracy(["x", "y"], ["x", "x"], task="classification") == 0.5


def test_correct_counts_agree_with_accuracy():
    rng = np.random.default_rng(0)
    names = ["A", "B", "C"]
    probs = [rng.random((n, 3)) for n in (1, 4, 7)]
    gold = [[names[i] for i in rng.integers(0, 3, len(p))] for p in probs]
    correct, weight = correct_counts([p.argmax(-1) for p in probs], gold, names, "tagging")
    assert correct.sum() / weight.sum() == accuracy(gold, argmax_labels(probs, names, "tagging"))


def test_viterbi_labels_are_the_viterbi_paths():
    rng = np.random.default_rng(1)
    probs = [rng.dirichlet(np.ones(3), size=n).astype(np.float32) for n in (2, 5)]
    trans, start, end = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)
    labels = viterbi_labels(probs, ["A", "B", "C"], trans, start, end)
    for p, got in zip(probs, labels):
        path = viterbi(p[None], [len(p)], trans, start, end)[0]
        assert got == [["A", "B", "C"][i] for i in path]
