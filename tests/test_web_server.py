"""``rnnx web``'s server: the page, onnxruntime-web and the export folder, and nothing else.

Every refused request is also checked for the secret written just outside the served
folders, so a refusal that leaks the file's content fails too.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NPM = __import__("shutil").which("npm")
pytestmark = pytest.mark.skipif(NPM is None and not os.environ.get("CI"),
                                reason="npm is not installed (apt-get install -y npm)")
SECRET = "rnnx-web-secret-3f9a1c"


@pytest.fixture(scope="module")
def served(tmp_path_factory, trained_export, copy_export_fn):
    from pipeline.runtime.web import install_page, make_server

    install_page(dev=True)  # the browser test needs puppeteer-core too: one npm ci for both
    root = tmp_path_factory.mktemp("web-server")
    folder = copy_export_fn(trained_export("classifier"), root / "export")
    (root / "secret.txt").write_text(SECRET)
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_text(SECRET)
    (folder / "evil").symlink_to(root / "secret.txt")
    (folder / "evildir").symlink_to(root / "outside", target_is_directory=True)
    (folder / "labels-link.json").symlink_to(folder / "labels.json")
    (folder / ".hidden").write_text(SECRET)
    server = make_server(folder, port=0, install=False)
    server.start_thread()
    yield server, folder, root
    server.shutdown()
    server.server_close()


def get(server, path: str, method: str = "GET") -> tuple[int, bytes, dict]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request(method, path)  # sent as written: no client-side normalisation of .. or %2e
    res = conn.getresponse()
    body = res.read()
    conn.close()
    return res.status, body, dict(res.getheaders())


def test_serves_the_page_the_runtime_and_the_export(served):
    server, folder, _ = served
    status, body, headers = get(server, "/")
    assert status == 200 and b'src="app.js"' in body and headers["Content-Type"].startswith("text/html")
    status, body, headers = get(server, "/app.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript" and b"onnxruntime-web" in body
    status, body, headers = get(server, "/ort/ort.wasm.min.mjs")
    assert status == 200 and headers["Content-Type"] == "text/javascript" and len(body) > 10_000
    wasm = [p.name for p in (Path(__file__).resolve().parents[1] / "examples/web/node_modules/onnxruntime-web/dist")
            .glob("ort-wasm-simd-threaded.wasm")]
    status, body, headers = get(server, f"/ort/{wasm[0]}")
    assert status == 200 and headers["Content-Type"] == "application/wasm" and body[:4] == b"\0asm"
    status, body, headers = get(server, "/stream.mjs")  # shared with the Node example
    assert status == 200 and headers["Content-Type"] == "text/javascript" and b"export class TagStream" in body
    status, body, _ = get(server, "/model/labels.json")
    assert status == 200 and body == (folder / "labels.json").read_bytes()
    status, body, _ = get(server, "/model/model.text.onnx")
    assert status == 200 and body == (folder / "model.text.onnx").read_bytes()
    status, body, headers = get(server, "/model/model.text.onnx", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == (folder / "model.text.onnx").stat().st_size
    # a symlink that stays inside the export folder is an ordinary file of it
    status, body, _ = get(server, "/model/labels-link.json")
    assert status == 200 and body == (folder / "labels.json").read_bytes()
    status, body, _ = get(server, "/config.json")
    config = json.loads(body)
    assert status == 200 and config["task"] == "classification" and config["default"] == "model.text.onnx"
    assert config["labels"] == json.loads((folder / "labels.json").read_text())
    assert [v["file"] for v in config["variants"]] == ["model.text.onnx"]
    assert config["variants"][0]["bytes"] == (folder / "model.text.onnx").stat().st_size
    assert config["stream"] is None  # a classifier has no stream model


REFUSED = [
    "/../secret.txt", "/model/../secret.txt", "/model/../../secret.txt", "/model/./labels.json",
    "/model/%2e%2e/secret.txt", "/model/%2E%2E/secret.txt", "/model/%2e%2e%2fsecret.txt", "/%2e%2e/secret.txt",
    "/ort/..%2f..%2f..%2fpackage.json", "/model/..%5csecret.txt", "/model/%5c..%5csecret.txt",
    "/model//etc/passwd", "/model/%2fetc%2fpasswd", "//etc/passwd", "/etc/passwd", "/model/%2Fetc/passwd",
    "http://127.0.0.1/etc/passwd", "/model/evil", "/model/evildir/secret.txt", "/model/evildir%2fsecret.txt",
    "/model/.hidden", "/model/labels.json%00.png", "/package.json", "/tag.js", "/stream.mjs/../tag.js", "/browser_test.mjs", "/node_modules/onnxruntime-web/package.json",
    "/ort/../../package.json", "/model/%252e%252e/secret.txt", "/model/%ff%fe", "/model/", "/ort/",
]


@pytest.mark.parametrize("path", REFUSED)
def test_refuses_everything_else(served, path):
    server, _, _ = served
    status, body, _ = get(server, path)
    assert status in (400, 403, 404), f"{path} answered {status}"
    assert SECRET.encode() not in body and b"root:" not in body


def test_traversal_is_forbidden_not_just_missing(served):
    server, _, _ = served
    for path in ("/model/../secret.txt", "/model/%2e%2e/secret.txt", "/model/evil", "/model//etc/passwd",
                 "/model/..%5csecret.txt", "/etc/passwd"):
        assert get(server, path)[0] == 403, path
    assert get(server, "/model/no-such-file.json")[0] == 404


def test_default_model_follows_the_int8_check(served, tmp_path, copy_export_fn):
    """int8 by default only when parity.json records it within its accuracy budget; ORT format first."""
    import shutil

    from pipeline.runtime.web import web_config

    _, folder, _ = served
    work = tmp_path / "x"
    work.mkdir()
    for name in ("export.json", "labels.json", "model.text.onnx"):
        shutil.copy2(folder / name, work / name)
    for name in ("model.int8.text.onnx", "model.int8.text.ort", "model.text.ort"):
        shutil.copy2(folder / "model.text.onnx", work / name)  # the choice reads names and reports, not weights
    cfg = web_config(work)
    assert cfg["default"] == "model.text.ort" and "no int8 check" in cfg["default_reason"]  # equal sizes: ORT first
    report = {"accuracy": {"float32": 0.9, "int8": 0.899}, "accuracy_drop_points": 0.1, "max_drop_points": 0.5,
              "passed": True}
    (work / "parity.json").write_text(json.dumps({"model.int8.onnx": report}))
    cfg = web_config(work)
    assert cfg["default"] == "model.int8.text.ort" and "drop 0.10 points" in cfg["default_reason"]
    assert {v["file"]: v["heldout_accuracy"] for v in cfg["variants"]}["model.int8.text.onnx"] == 0.899
    (work / "parity.json").write_text(json.dumps({"model.int8.onnx": {**report, "accuracy_drop_points": 0.7,
                                                                      "passed": False}}))
    assert web_config(work)["default"] == "model.text.ort"
    (work / "model.text.ort").unlink()
    assert web_config(work)["default"] == "model.text.onnx"
    # the smallest allowed file wins: an int8 .onnx smaller than its .ort, once int8 passed its check
    (work / "parity.json").write_text(json.dumps({"model.int8.onnx": report}))
    with open(work / "model.int8.text.ort", "ab") as f:
        f.write(b"\0" * 1000)
    cfg = web_config(work)
    assert cfg["default"] == "model.int8.text.onnx"
    assert cfg["default_text"] == cfg["default"] and cfg["stream"] is None


def test_not_an_export(tmp_path):
    from pipeline.errors import RnnxError
    from pipeline.runtime.web import make_server

    with pytest.raises(RnnxError, match="export.json is missing"):
        make_server(tmp_path, port=0, install=False)
    with pytest.raises(RnnxError, match="does not exist"):
        make_server(tmp_path / "nope", port=0, install=False)


def test_rnnx_web_prints_the_url_and_serves(served):
    _, folder, _ = served
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "web", str(folder), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"serving {folder} (classification, default model model.text.onnx) at http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1].strip()
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/model/../secret.txt")
        assert conn.getresponse().status == 403
        conn.close()
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/config.json")
        assert json.loads(conn.getresponse().read())["task"] == "classification"
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serving_imports_neither_tensorflow_nor_numpy(served):
    """`rnnx web` is standard library only: it runs where only the export folder was copied."""
    _, folder, _ = served
    code = ("import sys; from pipeline.runtime.web import make_server; s = make_server(sys.argv[1], port=0, "
            "install=False); s.server_close(); import pipeline.cli.web; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy', "
            "'onnxruntime', 'onnx')); print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stdout + res.stderr
