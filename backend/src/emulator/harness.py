"""Greenlight's local-workspace instance: runs one Azure ML scoring script behind HTTP.

Standard library only. The emulator embeds this file, writes it next to its state and starts one
process per deployment instance:

    python3 -u harness.py --code-dir DIR --scoring-script score.py --model-dir DIR
                          [--host 127.0.0.1] [--port 0]

Contract with the emulator (backend/src/emulator/instances/process.rs and pool.rs):
- Start-up: AZUREML_MODEL_DIR is set to --model-dir, --code-dir goes first on sys.path, the
  scoring script (a path relative to --code-dir) is imported and its init() called once. If
  either raises, the traceback goes to stderr, then one last stderr line
  "HARNESS_INIT_FAILED: <the traceback's last line>", and the process exits with status 3.
- Once listening it prints exactly one stdout line "HARNESS_READY port=<port>" (port 0 = any
  free port; the line names the real one).
- GET /health/live -> 200 "ok"; GET /health/ready -> 200 "ready"; any other GET -> 404.
- POST /score calls run(body) with the body decoded as UTF-8, one call at a time (like one
  Azure worker), and answers 200 with json.dumps(result) (a str result is JSON-encoded too).
  If run() raises: the traceback goes to stderr and the answer is 500 with
  {"error": "<Type>: <message>"} and header x-ms-model-error: 1. Other POST paths -> 404.
  A body the harness cannot read (bad Content-Length or chunk framing) -> 400, without
  x-ms-model-error.
- Every request but the health probes gets one stdout line "<METHOD> <path> <status> <ms>ms"
  (never the body).
- SIGTERM (or SIGINT): stop accepting connections, let in-flight requests finish (their answers
  carry Connection: close), close idle keep-alive connections, exit 0.
"""

import argparse
import importlib.util
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

INIT_FAILED_EXIT = 3
INIT_FAILED_PREFIX = "HARNESS_INIT_FAILED: "
READY_PREFIX = "HARNESS_READY port="
# Longer than any client's idle keep-alive (reqwest keeps idle connections 90 s), so the harness
# never closes a pooled connection just as the client reuses it. Stopping closes idle ones itself.
KEEP_ALIVE_TIMEOUT_S = 300
MAX_BODY_BYTES = 100 * 1024 * 1024

_output_lock = threading.Lock()


def emit(stream, text):
    """Writes whole lines to stdout/stderr without interleaving them across threads."""
    with _output_lock:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()


def describe(exc):
    """The exception as a traceback's last line shows it: "ValueError: bad model file"."""
    if isinstance(exc, SyntaxError):
        return traceback.format_exception_only(type(exc), exc)[-1].strip()
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{name}: {message}" if message else name


def load_scoring_module(code_dir, script):
    path = os.path.join(code_dir, script)
    module_name = os.path.splitext(os.path.basename(script))[0] or "score"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load scoring script {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered like a normal import, so pickle, dataclasses and friends find the module.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    for hook in ("init", "run"):
        if not callable(getattr(module, hook, None)):
            raise AttributeError(f"the scoring script {path} defines no {hook}() function")
    return module


def start(args):
    """Imports the script and runs init(); exits with INIT_FAILED_EXIT if either raises."""
    model_dir = os.path.abspath(args.model_dir)
    code_dir = os.path.abspath(args.code_dir)
    os.environ["AZUREML_MODEL_DIR"] = model_dir
    sys.path.insert(0, code_dir)
    try:
        module = load_scoring_module(code_dir, args.scoring_script)
        module.init()
        return module
    except BaseException as exc:  # noqa: BLE001 - whatever init() raised is the reason to report
        emit(sys.stderr, traceback.format_exc())
        emit(sys.stderr, INIT_FAILED_PREFIX + describe(exc))
        os._exit(INIT_FAILED_EXIT)  # no interpreter teardown: threads init() left must not block


class BadRequest(Exception):
    pass


class Connections:
    """The open client connections, so a stopping harness can close the idle ones."""

    def __init__(self):
        self.lock = threading.Lock()
        self.busy = {}  # handler -> True while it handles a request
        self.stopping = threading.Event()

    def opened(self, handler):
        with self.lock:
            self.busy[handler] = False

    def closed(self, handler):
        with self.lock:
            self.busy.pop(handler, None)

    def set_busy(self, handler, busy):
        with self.lock:
            if handler in self.busy:
                self.busy[handler] = busy

    def close_idle(self):
        """Ends the read side of idle connections: their handlers see EOF and finish. Writing
        still works, so an answer that is being sent is not cut off."""
        with self.lock:
            idle = [h for h, busy in self.busy.items() if not busy]
        for handler in idle:
            try:
                handler.connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass


def make_handler(module, connections):
    run_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = KEEP_ALIVE_TIMEOUT_S
        # An answer's head and body are buffered and sent in one write when the request is
        # handled (BaseHTTPRequestHandler flushes `wfile` after each request): one segment, one
        # wake-up for the caller. Larger answers may still take several writes, so Nagle's
        # algorithm stays off: with delayed ACKs it would hold each later write ~40 ms.
        wbufsize = -1
        disable_nagle_algorithm = True

        def version_string(self):
            return "greenlight-harness"

        # --- connection bookkeeping -------------------------------------------------------

        def setup(self):
            super().setup()
            connections.opened(self)

        def finish(self):
            connections.closed(self)
            super().finish()

        def parse_request(self):
            # Called as soon as a request line arrived: from here to the end of the answer the
            # connection is busy and a stopping harness leaves it alone.
            connections.set_busy(self, True)
            self._started = time.monotonic()
            return super().parse_request()

        def handle_one_request(self):
            try:
                super().handle_one_request()
            finally:
                connections.set_busy(self, False)
                if connections.stopping.is_set():
                    self.close_connection = True

        # --- logging ----------------------------------------------------------------------

        def log_message(self, fmt, *args):
            pass  # no default access log on stderr; log_request writes ours

        def log_request(self, code="-", size="-"):
            started = getattr(self, "_started", None)
            elapsed = (time.monotonic() - started) * 1000 if started is not None else 0.0
            command = getattr(self, "command", None) or "-"
            path = urlsplit(getattr(self, "path", "") or "").path or "-"
            if path.startswith("/health/"):
                return  # probes every few seconds would bury the requests in getLogs
            status = getattr(code, "value", code)
            emit(sys.stdout, f"{command} {path} {status} {elapsed:.1f}ms")

        # --- answers ----------------------------------------------------------------------

        def reply(self, status, body, content_type="application/json", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            if connections.stopping.is_set():
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def reply_json(self, status, value, headers=()):
            self.reply(status, json.dumps(value).encode("utf-8"), headers=headers)

        def route(self):
            return urlsplit(self.path).path

        def read_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self.read_chunked()
            raw = self.headers.get("Content-Length")
            if raw is None:
                return b""
            try:
                length = int(raw)
            except ValueError:
                raise BadRequest(f"Content-Length {raw!r} is not a number") from None
            if length < 0 or length > MAX_BODY_BYTES:
                raise BadRequest(f"Content-Length {length} is out of range")
            body = self.rfile.read(length)
            if len(body) != length:
                raise BadRequest("the body ended before Content-Length bytes")
            return body

        def read_chunked(self):
            parts, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size in a chunked body") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                total += size
                if total > MAX_BODY_BYTES:
                    raise BadRequest("the chunked body is too large")
                chunk = self.rfile.read(size)
                if len(chunk) != size:
                    raise BadRequest("the chunked body ended early")
                parts.append(chunk)
                self.rfile.readline(1024)  # the CRLF after each chunk

        def do_GET(self):
            route = self.route()
            if route == "/health/live":
                self.reply(200, b"ok", "text/plain; charset=utf-8")
            elif route == "/health/ready":
                self.reply(200, b"ready", "text/plain; charset=utf-8")
            else:
                self.reply_json(404, {"error": f"no such path: GET {route}"})

        do_HEAD = do_GET

        def do_POST(self):
            try:
                raw = self.read_body()
            except BadRequest as err:
                self.close_connection = True  # the framing is lost; do not read on from here
                self.reply_json(400, {"error": str(err)})
                return
            route = self.route()
            if route != "/score":
                self.reply_json(404, {"error": f"no such path: POST {route}"})
                return
            body = raw.decode("utf-8", errors="replace")
            try:
                with run_lock:
                    result = module.run(body)
                payload = json.dumps(result).encode("utf-8")
            except BaseException as err:  # noqa: BLE001 - a model error is reported, not fatal
                emit(sys.stderr, traceback.format_exc())
                self.reply_json(500, {"error": describe(err)}, headers=(("x-ms-model-error", "1"),))
                return
            self.reply(200, payload)

    return Handler


class Server(ThreadingHTTPServer):
    # In-flight requests finish before the process exits: server_close() joins their threads.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a client (or proxy) opening more connections at
    # once than that has SYNs dropped and waits for their retransmission, a second or more.
    request_queue_size = 128

    def server_bind(self):
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a machine without
        # working DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, TimeoutError)):
            return  # the client went away; nothing to report
        emit(sys.stderr, traceback.format_exc())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--scoring-script", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    module = start(args)
    connections = Connections()
    server = Server((args.host, args.port), make_handler(module, connections))

    def drain():
        server.shutdown()  # serve_forever returns: no more connections are accepted
        # Idle keep-alive connections would otherwise wait for their next request. Keep closing
        # them until the process exits: a handler may turn idle after finishing its request, or
        # register late (accepted just before the shutdown).
        while True:
            connections.close_idle()
            time.sleep(0.05)

    def stop(_signum, _frame):
        if not connections.stopping.is_set():
            connections.stopping.set()
            threading.Thread(target=drain, name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    emit(sys.stdout, f"{READY_PREFIX}{server.server_address[1]}")
    server.serve_forever(poll_interval=0.1)
    server.server_close()  # joins the request threads
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # threads the scoring script started must not keep the instance alive


if __name__ == "__main__":
    main()
