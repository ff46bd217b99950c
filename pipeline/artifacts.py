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

from pipeline.errors import ConfigError, RnnxError


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


# ----------------------------------------------------------------------------- owned folders

#: the marker file that makes a folder rnnx's own, per kind of folder
MARKERS = {"run": ".rnnx-run", "export": ".rnnx-export"}
_WHAT = {"run": "an rnnx run folder", "export": "an rnnx export folder"}


def check_name(name: str, flag: str = "--name") -> str:
    """``name`` if it is a plain folder name; a :class:`ConfigError` otherwise.

    >>> check_name("pos-2")
    'pos-2'
    >>> check_name("../x")
    Traceback (most recent call last):
    ...
    pipeline.errors.ConfigError: --name '../x' must be a plain folder name (letters, digits, '.', '-', '_'; no '/', '..' or leading '.')
    """
    ok = (isinstance(name, str) and 0 < len(name) <= 200 and not name.startswith((".", "-"))
          and not name.endswith(".partial") and all(c.isalnum() or c in "._-+@=" for c in name))
    if not ok:
        raise ConfigError(f"{flag} {name!r} must be a plain folder name (letters, digits, '.', '-', '_'; "
                          "no '/', '..' or leading '.')")
    return name


def write_marker(folder: Path | str, kind: str, **info) -> None:
    """Mark ``folder`` as rnnx's own ``kind`` of folder (``run`` or ``export``), atomically."""
    if kind not in MARKERS:
        raise ValueError(f"kind must be one of {', '.join(MARKERS)}, got {kind!r}")
    write_json(Path(folder) / MARKERS[kind], {"kind": kind, **info, **package_versions(("rnnx",))})


def is_owned(folder: Path | str, kind: str) -> bool:
    """Whether ``folder`` carries rnnx's ``kind`` marker (only such folders are ever replaced or deleted).

    Folders written by an rnnx from before the markers count when they hold rnnx's
    own record: a run's (or interrupted run's) ``config.json``, an export's
    ``export.json`` beside its ``model.onnx``, with rnnx's keys.
    """
    folder = Path(folder)
    if (folder / MARKERS[kind]).is_file():
        return True
    legacy = {"run": ("config.json", "config.json", ("name", "model", "options", "versions")),
              "export": ("export.json", "model.onnx", ("name", "engine"))}[kind]
    info_file, model_file, keys = legacy
    if not ((folder / info_file).is_file() and (folder / model_file).is_file()):
        return False
    try:
        info = json.loads((folder / info_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and all(k in info for k in keys)


def check_target(target: Path | str, kind: str, force: bool) -> Path:
    """Refuse to write ``target`` unless it is new, or rnnx's own ``kind`` folder and ``force`` is given."""
    target = Path(target)
    if target.is_symlink() or target.exists():
        if target.is_symlink() or not target.is_dir() or not is_owned(target, kind):
            raise ConfigError(
                f"{target} exists and is not {_WHAT[kind]} (no {MARKERS[kind]} marker); rnnx replaces only "
                f"folders it wrote. Choose another --name (or --out), or move {target} away yourself")
        if not force:
            raise ConfigError(f"{target} already exists; pass --force to replace it or choose another --name")
    return target


def remove_owned(folder: Path | str, kind: str) -> None:
    """Delete ``folder`` only if it carries rnnx's ``kind`` marker (else a :class:`ConfigError`)."""
    folder = Path(folder)
    if not folder.exists():
        return
    if folder.is_symlink() or not is_owned(folder, kind):
        raise ConfigError(f"{folder} is not {_WHAT[kind]} (no {MARKERS[kind]} marker); rnnx does not delete "
                          "folders it did not write. Move it away yourself")
    shutil.rmtree(folder)


@contextmanager
def target_lock(target: Path | str):
    """Hold an exclusive lock on writing ``target`` (a ``.NAME.lock`` file beside it, removed afterwards).

    A second writer of the same folder fails at once with a clear message instead of
    interleaving its files with the first one's.
    """
    target = Path(target)
    _make_parent(target)
    lock_path = target.with_name(f".{target.name}.lock")
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        yield
        return
    for _ in range(5):
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(f"{target} is being written by another rnnx process right now; wait for it to "
                              "finish, or choose another --name") from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder before us removed this file as we opened it: take the new one
    else:
        raise ConfigError(f"{target}: could not lock {lock_path}; try again")
    try:
        yield
    finally:
        try:
            os.unlink(lock_path)  # while still holding it: a waiting writer sees the file gone and retries
        except FileNotFoundError:
            pass
        os.close(fd)


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {target.parent} ({exc.strerror or exc}); choose another --out or --root") \
            from None


def staging_dir(target: Path | str, kind: str) -> Path:
    """A new, private, marked staging folder beside ``target`` (``.NAME.partial-XXXX``)."""
    target = Path(target)
    _make_parent(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    os.chmod(staging, 0o777 & ~_umask())
    write_marker(staging, kind, name=target.name)
    return staging


def replace_dir(staging: Path, target: Path, *, kind: str | None = None, force: bool = True) -> None:
    """Move a finished ``staging`` folder to ``target``, replacing an old one.

    The one way rnnx replaces a folder: ``target`` is replaced only when it carries
    the marker of the same ``kind`` (``run``/``export``; inferred from ``staging``'s
    marker or contents when not given) and ``force`` is true; ``staging`` gets the
    marker if it lacks it. The old folder is moved aside first and deleted only after
    the new one is in place.
    """
    staging, target = Path(staging), Path(target)
    kind = kind or _kind_of(staging)
    if not (staging / MARKERS[kind]).is_file():
        write_marker(staging, kind, name=target.name)
    check_target(target, kind, force)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            remove_owned(old, kind)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _kind_of(staging: Path) -> str:
    for kind, marker in MARKERS.items():
        if (staging / marker).is_file():
            return kind
    if (staging / "export.json").is_file():
        return "export"
    if (staging / "config.json").is_file():
        return "run"
    raise ValueError(f"{staging}: cannot tell whether it is a run or an export; pass kind=")
