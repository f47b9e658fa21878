"""Greenlight's local-workspace instance: runs one Azure ML scoring script behind HTTP.

Standard library only. The emulator embeds this file, writes it next to its state and starts one
process per deployment instance:

    python3 -u harness.py --code-dir DIR --scoring-script score.py --model-dir DIR
                          [--host 127.0.0.1] [--port 0]

Contract with the emulator (backend/src/emulator/instances/process.rs):
- AZUREML_MODEL_DIR is set to --model-dir; the scoring script is imported from --code-dir and its
  init() called once. If either raises, the traceback goes to stderr, then one last line
  "HARNESS_INIT_FAILED: <the traceback's last line>", and the process exits with status 3.
- Once serving it prints "HARNESS_READY port=<port>" to stdout.
- GET /health/live and /health/ready answer 200. POST /score calls run(body) (one call at a time,
  like one Azure worker) and answers 200 with its result as JSON; if run() raises: 500 with
  {"error": "<Type>: <message>"} and header x-ms-model-error: 1.
- SIGTERM: stop accepting, finish in-flight requests, exit 0.
"""

import argparse
import importlib.util
import json
import os
import signal
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INIT_FAILED_EXIT = 3


def load_scoring_module(code_dir, script):
    path = os.path.join(code_dir, script)
    spec = importlib.util.spec_from_file_location("score", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load scoring script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start(args):
    """Imports the script and runs init(); exits with INIT_FAILED_EXIT if either raises."""
    os.environ["AZUREML_MODEL_DIR"] = args.model_dir
    sys.path.insert(0, args.code_dir)
    try:
        module = load_scoring_module(args.code_dir, args.scoring_script)
        module.init()
        return module
    except BaseException:  # noqa: BLE001 - whatever init() raised is the reason to report
        text = traceback.format_exc()
        sys.stderr.write(text)
        last = text.strip().splitlines()[-1] if text.strip() else "init() failed"
        sys.stderr.write(f"HARNESS_INIT_FAILED: {last}\n")
        sys.stderr.flush()
        sys.exit(INIT_FAILED_EXIT)


def make_handler(module):
    run_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Idle keep-alive connections close after this, so a stopping instance drains quickly.
        timeout = 2
        # Headers and body are separate writes; with Nagle's algorithm and delayed ACKs every
        # answer would wait ~40 ms for the peer's ACK.
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            pass

        def reply(self, status, body, content_type="application/json", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/health/live":
                self.reply(200, b"ok", "text/plain")
            elif self.path == "/health/ready":
                self.reply(200, b"ready", "text/plain")
            else:
                self.reply(404, b'{"error": "not found"}')

        def do_POST(self):
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            if self.path != "/score":
                self.reply(404, b'{"error": "not found"}')
                return
            try:
                with run_lock:
                    result = module.run(raw.decode("utf-8", errors="replace"))
                body = json.dumps(result).encode("utf-8")
                status, headers = 200, ()
            except Exception as err:  # noqa: BLE001 - a model error is reported, not fatal
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
                body = json.dumps({"error": f"{type(err).__name__}: {err}"}).encode("utf-8")
                status, headers = 500, (("x-ms-model-error", "1"),)
            self.reply(status, body, headers=headers)
            elapsed_ms = (time.monotonic() - started) * 1000
            print(f"POST /score {status} {elapsed_ms:.1f}ms", flush=True)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--scoring-script", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    module = start(args)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(module))
    # In-flight requests finish before the process exits (server_close joins their threads).
    server.daemon_threads = False
    server.block_on_close = True

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"HARNESS_READY port={server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
