"""Writing artifacts so an interrupted run never leaves a half-written file or
folder that looks complete: write to a temporary name beside the target, then
``os.replace`` it into place.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_json(d / "metrics.json", {"accuracy": 0.97})
>>> read_json(d / "metrics.json")
{'accuracy': 0.97}
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import RnnxError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path | str, suffix: str = ""):
    """Yield a temporary path next to ``target``; move it into place on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts get the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path | str, data) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: Path | str):
    path = Path(path)
    if not path.exists():
        raise RnnxError(f"{path} is missing; is this folder a complete rnnx artifact?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RnnxError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}); re-create the artifact") from None


def update_json(path: Path | str, key: str, value) -> None:
    """Set ``key`` in the JSON object at ``path`` (created if missing), atomically.

    Reports of several model files share one file (``parity.json``, ``bench.json``).
    """
    path = Path(path)
    data = read_json(path) if path.exists() else {}
    data[key] = value
    write_json(path, data)


def package_versions(names) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones left out)."""
    import importlib.metadata as md

    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def replace_dir(staging: Path, target: Path) -> None:
    """Move a finished ``staging`` folder to ``target``, replacing an old one.

    The old folder is moved aside first and deleted only after the new one is in place.
    """
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
