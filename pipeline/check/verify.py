"""The two steps after export, shared by ``rnnx check``/``rnnx bench`` and the demo.

:func:`check_all` proves every model file in an export folder (``model.onnx``
against Keras, text and int8 variants against ``model.onnx``:
:func:`check_deploy_artifacts`); :func:`bench_all` times them
(:func:`bench_deploy_artifacts` for int8). Both refresh the model card.

Example::

    reports = check_all("export/pos")      # raises ParityError listing every failure
    print(format_checks(reports))
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ParityError


def check_all(folder: Path | str, *, run_path=None, limit: int | None = None, tol=None,
              model_file: str = "model.onnx") -> dict:
    from pipeline.check.parity import Tolerance, check_export
    from pipeline.export.modelcard import write_model_card

    try:
        reports = {model_file: check_export(folder, model_file=model_file, tol=tol or Tolerance(), limit=limit,
                                            run_path=run_path)}
        if model_file == "model.onnx":
            reports.update(check_deploy_artifacts(folder, run_path=run_path, limit=limit))
        return reports
    finally:
        write_model_card(folder)


def bench_all(folder: Path | str, *, run_path=None, budget_s: float = 0.5, keras: bool = True,
              model_file: str = "model.onnx") -> dict:
    from pipeline.check.bench import bench_export
    from pipeline.export.modelcard import write_model_card

    reports = {model_file: bench_export(folder, model_file=model_file, budget_s=budget_s, run_path=run_path,
                                        keras=keras)}
    reports.update(bench_deploy_artifacts(folder, run_path=run_path, budget_s=budget_s))
    write_model_card(folder)
    return reports


def format_checks(reports: dict) -> str:
    lines = []
    for name, r in reports.items():
        if "random" in r:  # an id model against Keras
            h, rnd = r["heldout"], r["random"]
            lines += [
                f"{name}: parity PASSED (engine {r['engine']}, atol {r['tolerance']['atol']:g})",
                f"  held-out {h['split']}: {h['sequences']:,} sequences, {h['positions']:,} positions, "
                f"max |diff| {h['max_abs_diff']:.2e}, label agreement {h['label_agreement'] * 100:.3f}%",
                f"  accuracy keras {h['accuracy']['keras']:.4f}  onnxruntime {h['accuracy']['onnxruntime']:.4f}"
                + ("  (dev: no test split, and early stopping used dev)" if h["split"].startswith("dev") else ""),
                f"  random: {rnd['batches']} batches, {rnd['positions']:,} positions, "
                f"max |diff| {rnd['max_abs_diff']:.2e}",
            ]
        elif "accuracy_drop_points" in r:  # int8 against float32
            acc = r["accuracy"]
            lines.append(f"{name}: PASSED, accuracy {acc['float32']:.4f} (float32) -> {acc['int8']:.4f} (int8), "
                         f"drop {r['accuracy_drop_points']:.2f} points (max {r['max_drop_points']}), "
                         f"label agreement {r['label_agreement'] * 100:.2f}%")
        elif "raw_text" in r:  # a raw-text classifier against the token-input text model
            j, raw = r["joined"], r["raw_text"]
            if raw.get("measured"):
                measured = (f"on raw text (split on spaces only) accuracy {raw['accuracy_raw_text']:.4f} vs "
                            f"{raw['accuracy_tokenized']:.4f} tokenised")
            else:  # user data: the untokenised texts are not known (only built-in mr keeps them)
                measured = f"raw-text accuracy not measured ({raw.get('why', 'no raw texts')})"
            lines.append(f"{name}: PASSED against {r.get('reference')} on tokens joined by spaces "
                         f"({j['positions']:,} texts, {j['label_mismatches']} label mismatches); {measured}")
        else:  # a text model against its id model
            h = r["heldout"]
            lines.append(f"{name}: PASSED against {r.get('reference')}, {h['positions']:,} positions, "
                         f"{h['label_mismatches']} label mismatches, max |diff| {h['max_abs_diff']:.1e}")
    return "\n".join(lines)


def check_deploy_artifacts(folder: Path | str, *, run_path=None, limit: int | None = None) -> dict:
    """Run every check that applies to the files present; raise one ParityError listing all failures."""
    from pipeline.check.int8 import check_quantized
    from pipeline.check.text import check_text_model
    from pipeline.export.quantize import INT8_FILE
    from pipeline.export.textmodel import text_file_name

    folder = Path(folder)
    reports: dict = {}
    failures: list[str] = []
    typed: list = []
    checks = []
    if (folder / "model.text.onnx").exists():
        checks.append(("model.text.onnx", lambda: check_text_model(folder, run_path=run_path, limit=limit)))
    if (folder / INT8_FILE).exists():
        checks.append((INT8_FILE, lambda: {INT8_FILE: check_quantized(folder, run_path=run_path, limit=limit)}))
        int8_text = text_file_name(INT8_FILE)
        if (folder / int8_text).exists():
            checks.append((int8_text, lambda: check_text_model(folder, text_file=int8_text, id_file=INT8_FILE,
                                                               run_path=run_path, limit=limit)))
    for name, run in checks:
        try:
            reports.update(run())
        except ParityError as exc:
            failures.append(str(exc))
            typed.extend(exc.failures)
    if failures:
        raise ParityError("\n".join(failures), failures=tuple(typed))
    return reports


def bench_deploy_artifacts(folder: Path | str, *, run_path=None, budget_s: float = 0.5) -> dict:
    """Size and 1-thread latency of int8 vs float32 (when ``model.int8.onnx`` exists) into ``bench.json``."""
    from pipeline.check.int8 import bench_quantized
    from pipeline.export.quantize import INT8_FILE

    folder = Path(folder)
    if not (folder / INT8_FILE).exists():
        return {}
    return {INT8_FILE: bench_quantized(folder, run_path=run_path, budget_s=budget_s)}


__all__ = ["ParityError", "bench_all", "bench_deploy_artifacts", "check_all", "check_deploy_artifacts",
           "format_checks"]
