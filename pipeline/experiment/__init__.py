"""The lecture's questions about recurrent networks, answered by measurement (``rnnx experiment``).

1. SimpleRNN vs LSTM vs GRU, uni- vs bidirectional, for tagging and classification:
   accuracy, parameters, training time, ONNX Runtime latency (:mod:`.grid`);
2. "They are early birds" vs "They are early today": a unidirectional tagger's
   output for "early" is bit-identical in both, a bidirectional one's is not
   (:mod:`.prefix`);
3. is a bidirectional classifier worth its latency? (:mod:`.verdict`);
4. what a hidden state represents: linear probes for the current / previous /
   next tag and nearest neighbours of token states (:mod:`.probe`).

Beyond the questions: character-CNN / CRF models (Ma & Hovy 2016, :mod:`.published`) and
contextual string embeddings (a pretrained character LM's states as word features, out-of-domain
and NER comparisons with classic peers: :mod:`.charlm`, :mod:`.peers`).

:mod:`.plan` sizes the runs (``quick`` / ``full``), :mod:`.slices` prepares the
data, :mod:`.figures` and :mod:`.report` write the PNGs and ``report.md``,
:mod:`.runner` ties it together.

Example::

    from pipeline.experiment import run_experiment
    results = run_experiment("experiments/quick", quick=True)   # a few minutes on 2 cores
    results["bidirectional"]["paragraph"]
"""

from pipeline.experiment.plan import Plan, TaskPlan, plan_for
from pipeline.experiment.runner import run_experiment

__all__ = ["Plan", "TaskPlan", "plan_for", "run_experiment"]
