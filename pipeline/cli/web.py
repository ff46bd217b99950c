"""``rnnx web``: serve the browser page (examples/web) and one export on localhost.

A thin wrapper over :func:`pipeline.runtime.web.make_server` (standard library
only; no TensorFlow). The page tags text as it is typed, in the browser, with
onnxruntime-web; nothing is sent back to the server but file requests.
"""

from __future__ import annotations

import sys

from pipeline.cli.registry import Command, register


def configure(p) -> None:
    p.add_argument("export", help="an export folder, e.g. export/pos")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--no-install", dest="install", action="store_false",
                   help="do not run `npm install --ignore-scripts` in examples/web when onnxruntime-web is missing")
    p.add_argument("--verbose", action="store_true", help="log every request")


def run(args) -> int:
    from pipeline.runtime.web import make_server

    server = make_server(args.export, port=args.port, host=args.host, install=args.install, verbose=args.verbose)
    cfg = server.config
    print(f"serving {args.export} ({cfg['task']}, default model {cfg['default']}) at {server.url}", flush=True)
    print("press Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


register(Command("web", "serve a browser page that tags text as you type (onnxruntime-web)",
                 "rnnx web export/pos --port 8000   (after: rnnx export saved_models/pos --quantize int8)",
                 configure, run))
