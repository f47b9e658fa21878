"""Runs the real instance harness (backend/src/emulator/harness.py) against the demo models.

From the repository root:  python3 -m unittest discover -s examples/tests -v
Standard library only; every harness is a subprocess on a free loopback port, killed afterwards.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HARNESS = ROOT / "backend" / "src" / "emulator" / "harness.py"
START_TIMEOUT_S = 10


class Harness:
    """One harness process; collects what it prints."""

    def __init__(self, code_dir, model_dir, env=None, script="score.py"):
        full_env = dict(os.environ)
        full_env.pop("AZUREML_MODEL_DIR", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable, "-u", str(HARNESS),
                "--code-dir", str(code_dir),
                "--scoring-script", script,
                "--model-dir", str(model_dir),
                "--host", "127.0.0.1",
                "--port", "0",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            text=True,
        )
        self.stdout, self.stderr = [], []
        self.port = None
        self._ready = threading.Event()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines):
        for line in stream:
            line = line.rstrip("\n")
            lines.append(line)
            if stream is self.proc.stdout and line.startswith("HARNESS_READY port="):
                self.port = int(line.split("=", 1)[1])
                self._ready.set()
        if stream is self.proc.stdout:
            self._ready.set()  # closed without a ready line: wait_ready() reports it

    def wait_ready(self):
        if not self._ready.wait(START_TIMEOUT_S) or self.port is None:
            raise AssertionError(f"the harness did not report ready; stderr:\n" + self.err_text())
        return self

    def wait_exit(self, timeout=5):
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(2)
        return code

    def err_text(self):
        return "\n".join(self.stderr)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def request(self, method, path, body=None, timeout=10):
        """Returns (status, headers as a lower-cased dict, body text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            conn.close()

    def score(self, body):
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.request("POST", "/score", body)


def model_json(name):
    return json.loads((EXAMPLES / name / "model" / "model.json").read_text(encoding="utf-8"))


def sample_body(name):
    return (EXAMPLES / name / "sample-request.json").read_text(encoding="utf-8")


def expected(name, rows):
    model = model_json(name)
    return [
        sum(c * x for c, x in zip(model["coefficients"], row)) + model["intercept"] for row in rows
    ]


class HarnessTest(unittest.TestCase):
    def setUp(self):
        self.harnesses = []

    def tearDown(self):
        for harness in self.harnesses:
            harness.kill()

    def start(self, example=None, env=None, code_dir=None, model_dir=None, ready=True):
        if example is not None:
            code_dir = EXAMPLES / example / "code"
            model_dir = EXAMPLES / example / "model"
        harness = Harness(code_dir, model_dir, env)
        self.harnesses.append(harness)
        return harness.wait_ready() if ready else harness

    def assert_model_error(self, response, *fragments):
        status, headers, text = response
        self.assertEqual(status, 500, text)
        self.assertEqual(headers.get("x-ms-model-error"), "1")
        self.assertEqual(headers.get("content-type"), "application/json")
        error = json.loads(text)["error"]
        for fragment in fragments:
            self.assertIn(fragment, error)
        return error

    # --- the demo models --------------------------------------------------------------------

    def test_v1_answers_the_dot_products_of_the_sample(self):
        harness = self.start("regression-v1")
        body = sample_body("regression-v1")
        status, headers, text = harness.score(body)
        self.assertEqual(status, 200, text)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertNotIn("x-ms-model-error", headers)
        rows = json.loads(body)["data"]
        answer = json.loads(text)
        want = expected("regression-v1", rows)
        self.assertEqual(len(answer), len(rows))
        for got, value in zip(answer, want):
            self.assertAlmostEqual(got, value, places=9)

        # One log line per request, never the body.
        harness.proc.send_signal(signal.SIGTERM)
        self.assertEqual(harness.wait_exit(), 0, harness.err_text())
        self.assertTrue(harness.stdout[0].startswith("HARNESS_READY port="), harness.stdout)
        self.assertEqual(sum(1 for l in harness.stdout if l.startswith("HARNESS_READY")), 1)
        logs = [l for l in harness.stdout if l.startswith("POST /score 200 ")]
        self.assertEqual(len(logs), 1, harness.stdout)
        self.assertRegex(logs[0], r"^POST /score 200 \d+\.\dms$")
        self.assertNotIn("[1,2,3", "\n".join(harness.stdout))

    def test_v2_answers_differently_from_v1(self):
        v1, v2 = self.start("regression-v1"), self.start("regression-v2")
        body = sample_body("regression-v1")
        s1, _, t1 = v1.score(body)
        s2, _, t2 = v2.score(body)
        self.assertEqual((s1, s2), (200, 200), (t1, t2))
        a1, a2 = json.loads(t1), json.loads(t2)
        self.assertEqual(len(a1), len(a2))
        self.assertNotEqual(a1, a2)
        rows = json.loads(body)["data"]
        for got, value in zip(a2, expected("regression-v2", rows)):
            self.assertAlmostEqual(got, value, places=9)

    def test_bad_input_is_a_model_error_naming_the_problem(self):
        harness = self.start("regression-v1")
        self.assert_model_error(harness.score("this is not json"), "ValueError", "not JSON")
        self.assert_model_error(harness.score('{"rows": []}'), "ValueError", '"data"')
        self.assert_model_error(
            harness.score('{"data": [[1,2,3,4,5,6,7,8,9,10], [1,2,3]]}'),
            "ValueError", "row 1", "10 numbers",
        )
        self.assert_model_error(
            harness.score('{"data": [[1,2,3,4,5,6,7,8,9,"x"]]}'), "ValueError", "row 0"
        )
        # The instance keeps serving after model errors.
        status, _, text = harness.score(sample_body("regression-v1"))
        self.assertEqual(status, 200, text)
        self.assertIn("ValueError", harness.err_text())  # the traceback went to stderr

    def test_v3_fails_at_rate_one_and_succeeds_at_rate_zero(self):
        failing = self.start(
            "regression-v3-faulty",
            {"FAULTY_FAILURE_RATE": "1", "FAULTY_DELAY_MS": "0", "FAULTY_SEED": "7"},
        )
        healthy = self.start(
            "regression-v3-faulty",
            {"FAULTY_FAILURE_RATE": "0", "FAULTY_DELAY_MS": "0", "FAULTY_SEED": "7"},
        )
        body = sample_body("regression-v3-faulty")
        for _ in range(3):
            error = self.assert_model_error(failing.score(body))
            self.assertEqual(error, "RuntimeError: simulated model failure")
            status, _, text = healthy.score(body)
            self.assertEqual(status, 200, text)
        rows = json.loads(body)["data"]
        for got, value in zip(json.loads(text), expected("regression-v3-faulty", rows)):
            self.assertAlmostEqual(got, value, places=9)

    def test_v3_delays_and_runs_one_request_at_a_time(self):
        harness = self.start(
            "regression-v3-faulty", {"FAULTY_FAILURE_RATE": "0", "FAULTY_DELAY_MS": "250"}
        )
        body = sample_body("regression-v3-faulty")
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(harness.score(body)[0]))
            for _ in range(2)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        elapsed = time.monotonic() - started
        self.assertEqual(results, [200, 200])
        self.assertGreaterEqual(elapsed, 0.45, "run() calls overlapped")

    # --- the harness contract ---------------------------------------------------------------

    def test_health_probes_and_unknown_paths(self):
        harness = self.start("regression-v1")
        self.assertEqual(harness.request("GET", "/health/live")[::2], (200, "ok"))
        self.assertEqual(harness.request("GET", "/health/ready")[::2], (200, "ready"))
        self.assertEqual(harness.request("GET", "/score")[0], 404)
        self.assertEqual(harness.request("GET", "/")[0], 404)
        status, headers, _ = harness.request("POST", "/predict", b"{}")
        self.assertEqual(status, 404)
        self.assertNotIn("x-ms-model-error", headers)

    def test_init_failure_exits_3_with_the_reason(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, model = Path(tmp, "code"), Path(tmp, "model")
            code.mkdir()
            model.mkdir()
            (code / "score.py").write_text(
                textwrap.dedent(
                    """\
                    def init():
                        raise ValueError("model file is corrupt")

                    def run(raw_data):
                        return raw_data
                    """
                ),
                encoding="utf-8",
            )
            harness = self.start(code_dir=code, model_dir=model, ready=False)
            self.assertEqual(harness.wait_exit(), 3)
        self.assertFalse(any(l.startswith("HARNESS_READY") for l in harness.stdout))
        self.assertIn("Traceback (most recent call last):", harness.stderr)
        self.assertEqual(
            harness.stderr[-1], "HARNESS_INIT_FAILED: ValueError: model file is corrupt"
        )

    def test_environment_sys_path_and_string_results(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, model = Path(tmp, "code"), Path(tmp, "model")
            code.mkdir()
            model.mkdir()
            (code / "helper.py").write_text("PREFIX = 'model dir: '\n", encoding="utf-8")
            (code / "score.py").write_text(
                textwrap.dedent(
                    """\
                    import os
                    import helper  # found because the code dir is on sys.path

                    def init():
                        global answer
                        answer = helper.PREFIX + os.environ["AZUREML_MODEL_DIR"]

                    def run(raw_data):
                        return answer
                    """
                ),
                encoding="utf-8",
            )
            harness = self.start(code_dir=code, model_dir=model)
            status, headers, text = harness.score("{}")
        self.assertEqual(status, 200, text)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(json.loads(text), "model dir: " + str(model))

    def test_sigterm_lets_the_request_in_flight_finish(self):
        harness = self.start(
            "regression-v3-faulty", {"FAULTY_FAILURE_RATE": "0", "FAULTY_DELAY_MS": "500"}
        )
        body = sample_body("regression-v3-faulty")
        result = {}

        def slow():
            try:
                result["response"] = harness.score(body)
            except Exception as err:  # noqa: BLE001 - reported by the assertion below
                result["error"] = err

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.15)  # the request is in run() now
        harness.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # No new requests once stopping (the listener is closed, or the process is gone).
        with self.assertRaises(OSError):
            harness.request("GET", "/health/live", timeout=2)
        thread.join(10)
        self.assertNotIn("error", result, result.get("error"))
        status, headers, text = result["response"]
        self.assertEqual(status, 200, text)
        self.assertEqual(headers.get("connection"), "close")
        self.assertEqual(len(json.loads(text)), 2)
        self.assertEqual(harness.wait_exit(), 0, harness.err_text())

    def test_sigterm_does_not_wait_for_idle_keep_alive_connections(self):
        harness = self.start("regression-v1")
        conn = http.client.HTTPConnection("127.0.0.1", harness.port, timeout=10)
        try:
            conn.request("GET", "/health/live")
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            response.read()  # the connection stays open, idle
            started = time.monotonic()
            harness.proc.send_signal(signal.SIGTERM)
            self.assertEqual(harness.wait_exit(timeout=5), 0, harness.err_text())
            self.assertLess(time.monotonic() - started, 2.0)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
