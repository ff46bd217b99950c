"""Serve the browser page (``examples/web/``) and one export folder on localhost.

Python's standard library only (:mod:`http.server`); no numpy, no TensorFlow. The
server answers four kinds of path and refuses everything else:

=======================  ================================================================
path                     what
=======================  ================================================================
``/``                    ``examples/web/index.html``
``/app.js`` ...          the page's own files (:data:`PAGE_FILES`)
``/stream.mjs``          ``examples/node/stream.mjs`` (streaming, shared with the Node example)
``/ort/FILE``            ``examples/web/node_modules/onnxruntime-web/dist/FILE``
``/model/FILE``          a file at the top of the export folder
``/config.json``         what the page loads: task, labels, variants, sizes, the default
=======================  ================================================================

A path is percent-decoded once; a ``..`` or ``.`` segment, an empty segment, a
backslash, a NUL, a dot file or a file below the top level is refused (403), and so
is a file whose real path (symlinks resolved) lies outside its root.

The default model of a tagger exported with ``--streaming`` is ``model.stream.onnx``
(each keystroke costs the changed tokens only). Otherwise it is the smallest text
variant that is known to be equivalent: int8 files only when ``rnnx check`` recorded
that int8 stays within its accuracy budget (``parity.json``); on equal sizes the order
of :data:`TEXT_VARIANTS` (ORT format first). ``?model=FILE`` on the page picks any other.

Example::

    server = make_server("export/pos", port=8000)   # port=0 picks a free port
    print(server.url)                               # http://127.0.0.1:8000/
    server.serve_forever()
"""

from __future__ import annotations

import json
import mimetypes
import shutil
import subprocess
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipeline.errors import RnnxError

PAGE = Path(__file__).resolve().parents[2] / "examples" / "web"
#: the page's own files, served from ``/``; nothing else of examples/web is reachable
PAGE_FILES = ("index.html", "app.js", "tokenize.js", "style.css", "screenshot.png")
#: the streaming tagger (Stream, TagStream), shared with the Node example and served as /stream.mjs
STREAM_JS = PAGE.parent / "node" / "stream.mjs"
ORT_PACKAGE = "onnxruntime-web"
ORT_DIST = Path("node_modules") / ORT_PACKAGE / "dist"

#: text-model variants the page can run; the smallest allowed one is the default (this order on ties)
TEXT_VARIANTS = ("model.int8.text.ort", "model.int8.text.onnx", "model.text.ort", "model.text.onnx")
STREAM_FILE = "model.stream.onnx"

TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream", ".ort": "application/octet-stream", ".json": "application/json",
         ".html": "text/html; charset=utf-8", ".css": "text/css", ".md": "text/markdown; charset=utf-8",
         ".png": "image/png", ".map": "application/json", ".txt": "text/plain; charset=utf-8",
         ".config": "text/plain; charset=utf-8"}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def int8_allowed(folder: Path) -> tuple[bool, str]:
    """Whether ``rnnx check`` showed int8 within its accuracy budget, and why (not)."""
    report = _read_json(folder / "parity.json").get("model.int8.onnx")
    if not report:
        return False, "no int8 check in parity.json (run `rnnx check` to let the page default to int8)"
    drop, limit = report.get("accuracy_drop_points"), report.get("max_drop_points")
    if not report.get("passed") or drop is None or limit is None or drop > limit:
        return False, f"int8 failed its check (accuracy drop {drop} points, budget {limit})"
    return True, f"int8 checked: accuracy drop {drop:.2f} points (budget {limit})"


def web_config(folder: Path | str) -> dict:
    """What the page needs to know about ``folder``: served as ``/config.json``."""
    folder = Path(folder)
    info = _read_json(folder / "export.json")
    if not info:
        raise RnnxError(f"{folder}/export.json is missing: {folder} is not an rnnx export (run `rnnx export`)")
    deploy = _read_json(folder / "deploy.json").get("artifacts", {})
    parity = _read_json(folder / "parity.json")
    ok8, why8 = int8_allowed(folder)
    variants = []
    for name in TEXT_VARIANTS:
        path = folder / name
        if not path.is_file():
            continue
        source = name.replace(".ort", ".onnx")
        check = parity.get(source) or {}
        if ".int8." in name:
            acc = ((parity.get("model.int8.onnx") or {}).get("accuracy") or {}).get("int8")
        else:
            acc = (((parity.get("model.onnx") or {}).get("heldout") or {}).get("accuracy") or {}).get("onnxruntime")
        variants.append({"file": name, "bytes": path.stat().st_size, "int8": ".int8." in name,
                         "format": "ort" if name.endswith(".ort") else "onnx",
                         "role": (deploy.get(name) or {}).get("role", ""),
                         "heldout_accuracy": acc if isinstance(acc, (int, float)) else None,
                         "text_check_passed": check.get("passed")})
    if not variants:
        raise RnnxError(f"{folder} has no model.text.onnx: export with text models on (`rnnx export` writes it "
                        "by default)")
    allowed = sorted((v for v in variants if ok8 or not v["int8"]), key=lambda v: v["bytes"])  # stable on ties
    default_text = allowed[0]["file"] if allowed else variants[-1]["file"]
    reason = why8 if ok8 or any(v["int8"] for v in variants) else "no int8 variant exported"
    spec = info.get("streaming") or {}
    stream_file = spec.get("file", STREAM_FILE)
    stream = None
    if info["task"] == "tagging" and spec and (folder / stream_file).is_file() and (folder / "vocab.json").is_file():
        stream = {"file": stream_file, "bytes": (folder / stream_file).stat().st_size,
                  "vocab_bytes": (folder / "vocab.json").stat().st_size, "states": spec.get("states", [])}
    model = info.get("model", {})
    return {
        "name": info.get("name", folder.name),
        "task": info["task"],
        "model": model,
        "labels": _read_json(folder / "labels.json"),
        "tokenizer": info.get("tokenizer", {"contractions": True}),
        "lowercase": bool(model.get("lowercase", False)),
        "variants": variants,
        "default": stream["file"] if stream else default_text,
        "default_reason": ("streaming: each keystroke runs only the tokens that changed" if stream else reason),
        "default_text": default_text,
        "default_text_reason": reason,
        "stream": stream,
        "card": "README.md" if (folder / "README.md").is_file() else None,
    }


class Refused(Exception):
    """A path the server will not answer: ``status`` 403 (outside what is served) or 404 (missing)."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def locate(root: Path, rel: str, *, top_level_only: bool = False) -> Path:
    """``root/rel`` when it is a plain file inside ``root`` (symlinks resolved); raises :class:`Refused`.

    >>> locate(PAGE, "../README.md")
    Traceback (most recent call last):
    ...
    pipeline.runtime.web.Refused: ../README.md: a '..', '.', empty or dot-file segment
    """
    if "\\" in rel or "\x00" in rel:
        raise Refused(HTTPStatus.FORBIDDEN, f"{rel!r}: backslashes and NUL are not allowed")
    parts = rel.split("/")
    if not rel:
        raise Refused(HTTPStatus.NOT_FOUND, "no file named")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise Refused(HTTPStatus.FORBIDDEN, f"{rel}: a '..', '.', empty or dot-file segment")
    if top_level_only and len(parts) != 1:
        raise Refused(HTTPStatus.NOT_FOUND, f"{rel}: only files at the top of the folder are served")
    base = root.resolve()
    try:
        target = (base / rel).resolve(strict=True)
    except (OSError, RuntimeError):
        raise Refused(HTTPStatus.NOT_FOUND, f"{rel} was not found") from None
    if target != base and base not in target.parents:
        raise Refused(HTTPStatus.FORBIDDEN, f"{rel} leads outside the served folder")
    if not target.is_file():
        raise Refused(HTTPStatus.NOT_FOUND, f"{rel} is not a file")
    return target


class WebHandler(BaseHTTPRequestHandler):
    server: "WebServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet unless asked (rnnx web --verbose)
        if self.server.verbose:
            super().log_message(fmt, *args)

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        raw = self.path
        if not raw.startswith("/") or raw.startswith("//"):
            return self._refuse(HTTPStatus.FORBIDDEN, "only paths below / are served")
        try:
            path = unquote(urlsplit(raw).path, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return self._refuse(HTTPStatus.BAD_REQUEST, "the path is not valid percent-encoded UTF-8")
        if path == "/config.json":
            body = json.dumps(self.server.config, indent=1).encode()
            return self._send(body, TYPES[".json"], head)
        try:
            if "\x00" in path or "\\" in path or any(p in (".", "..") for p in path.split("/")):
                raise Refused(HTTPStatus.FORBIDDEN, "'..', '.', backslash and NUL segments are not allowed")
            if path in ("/", "/index.html"):
                target = locate(self.server.page, "index.html")
            elif path.startswith("/ort/"):
                target = locate(self.server.page / ORT_DIST, path[len("/ort/"):], top_level_only=True)
            elif path.startswith("/model/"):
                target = locate(self.server.folder, path[len("/model/"):], top_level_only=True)
            elif path == "/stream.mjs":
                target = locate(STREAM_JS.parent, STREAM_JS.name)
            elif path[1:] in PAGE_FILES:
                target = locate(self.server.page, path[1:], top_level_only=True)
            else:
                raise Refused(HTTPStatus.FORBIDDEN, "outside the page and the export folder")
        except Refused as exc:
            return self._refuse(exc.status, f"{raw}: {exc}")
        ctype = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(target.read_bytes(), ctype, head)

    def _send(self, body: bytes, ctype: str, head: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class WebServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path, *, host: str, port: int, page: Path, verbose: bool = False):
        self.folder, self.page, self.verbose = folder, page, verbose
        self.config = web_config(folder)
        super().__init__((host, port), WebHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start_thread(self) -> threading.Thread:
        """Serve in a daemon thread (tests); stop with :meth:`shutdown`."""
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        return thread


def install_page(page: Path = PAGE, *, dev: bool = False) -> Path:
    """``npm install --ignore-scripts`` in ``page`` when onnxruntime-web is missing; returns its dist folder.

    ``dev=True`` also installs the test driver's puppeteer-core.
    """
    if not (page / "index.html").is_file():
        raise RnnxError(f"{page}/index.html is missing; the web page ships in the rnnx source tree (examples/web)")
    need = [page / ORT_DIST] + ([page / "node_modules" / "puppeteer-core"] if dev else [])
    if not all(p.is_dir() for p in need):
        npm = shutil.which("npm")
        if npm is None:
            raise RnnxError("npm is not installed: install Node.js with npm (e.g. apt-get install -y npm), or "
                            f"run `npm install --ignore-scripts` in {page} on a machine that has it")
        cmd = [npm, "ci" if (page / "package-lock.json").is_file() else "install", "--ignore-scripts",
               "--no-audit", "--no-fund"] + ([] if dev else ["--omit=dev"])
        res = subprocess.run(cmd, cwd=page, capture_output=True, text=True, timeout=900)
        if res.returncode != 0:
            raise RnnxError(f"{' '.join(cmd[1:])} failed in {page}:\n{res.stderr[-2000:]}")
    return page / ORT_DIST


def make_server(folder: Path | str, *, port: int = 8000, host: str = "127.0.0.1", page: Path = PAGE,
                install: bool = True, verbose: bool = False) -> WebServer:
    """A server for ``folder`` (not started: call ``serve_forever`` or ``start_thread``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RnnxError(f"{folder} does not exist; export a model first: rnnx export saved_models/NAME")
    if install:
        install_page(page)
    elif not (page / ORT_DIST).is_dir():
        raise RnnxError(f"{page / ORT_DIST} is missing: run `npm install --ignore-scripts` in {page}")
    try:
        return WebServer(folder, host=host, port=port, page=page, verbose=verbose)
    except OSError as exc:
        raise RnnxError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port "
                        "(0 picks a free one)") from None
