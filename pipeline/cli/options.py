"""Flags shared by several commands, defined once; their choices come from the registries that own them.

=====================  ======================================================
choice                 registry
=====================  ======================================================
``--data`` (built-in)  :data:`pipeline.data.datasets.DATASETS`
``--format``           :data:`pipeline.data.readers.FORMATS`
``--column``           :data:`pipeline.data.readers.CONLLU_COLUMNS`
``--task``             :data:`pipeline.data.corpus.TASKS`
``--cell``             :data:`pipeline.models.config.CELLS`
``--pooling``          :data:`pipeline.models.config.POOLINGS`
``--mixed-precision``  :data:`pipeline.train.fit.MIXED_PRECISIONS`
``--strategy``         :data:`pipeline.train.distribute.STRATEGIES`
``--engine``           :data:`pipeline.export.exporter.ENGINES`
``--quantize``         :data:`pipeline.export.deploy.QUANTIZE_CHOICES`
=====================  ======================================================

None of these registries imports TensorFlow, so every parser builds without it.

>>> import argparse
>>> p = argparse.ArgumentParser(); add_data_args(p)
>>> p.parse_args(["--data", "x.conllu", "--format", "conllu"]).data_format
'conllu'
>>> formats(), cells(), engines()
(['conllu', 'conll', 'wordtag', 'tsv'], ['simplernn', 'lstm', 'gru'], ['auto', 'fused', 'tf2onnx'])
"""

from __future__ import annotations

import argparse


def datasets() -> list[str]:
    from pipeline.data.datasets import DATASETS

    return list(DATASETS)


def formats() -> list[str]:
    from pipeline.data.readers import FORMATS

    return list(FORMATS)


def columns() -> list[str]:
    from pipeline.data.readers import CONLLU_COLUMNS

    return list(CONLLU_COLUMNS)


def tasks() -> list[str]:
    from pipeline.data.corpus import TASKS

    return list(TASKS)


def cells() -> list[str]:
    from pipeline.models.config import CELLS

    return list(CELLS)


def poolings() -> list[str]:
    from pipeline.models.config import POOLINGS

    return list(POOLINGS)


def mixed_precisions() -> list[str]:
    from pipeline.train.fit import MIXED_PRECISIONS

    return list(MIXED_PRECISIONS)


def strategies() -> list[str]:
    from pipeline.train.distribute import STRATEGIES

    return list(STRATEGIES)


def engines() -> list[str]:
    from pipeline.export.exporter import ENGINES

    return ["auto", *ENGINES]


def quantize_choices() -> list[str]:
    from pipeline.export.deploy import QUANTIZE_CHOICES

    return [q for q in QUANTIZE_CHOICES if q]


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the machine-readable result instead of a table")


def add_format(p: argparse.ArgumentParser, *, extra: tuple[str, ...] = (), help: str | None = None) -> None:
    """``--format`` (stored as ``data_format``): a registered file format, or one of ``extra``."""
    p.add_argument("--format", dest="data_format", choices=[*formats(), *extra], help=help)


def add_column(p: argparse.ArgumentParser, *, help: str | None = None) -> None:
    p.add_argument("--column", default="upos", choices=columns(), help=help)


def add_data_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--data", required=required,
                   help=f"built-in dataset ({', '.join(datasets())}), a file (CoNLL-U, CoNLL columns, word/tag "
                        "lines, label<TAB>text), or a folder / glob of files streamed one at a time")
    add_format(p, help="format of --data files (detected from the extension and content when left out)")
    add_column(p, help="CoNLL-U tag column (default upos)")


def add_export_args(p: argparse.ArgumentParser) -> None:
    """The export folder, the model file in it, and the Keras run behind it (check, bench)."""
    p.add_argument("export", help="an export folder, e.g. export/pos")
    p.add_argument("--model-file", default="model.onnx", help="which ONNX file in the folder (default model.onnx)")
    p.add_argument("--run", help="the Keras run folder (default: the one recorded in export.json)")
