"""A deliberately bad release of the demo regression: slow, and failing a share of requests.
For testing rollout gates and rollback. Same contract, request shape and model file as v2.

Environment (read once, in init()):
  FAULTY_DELAY_MS      (default 200)  milliseconds to sleep at the start of every run()
  FAULTY_FAILURE_RATE  (default 0.3)  share of requests, 0..1, that raise
                                      RuntimeError("simulated model failure")
  FAULTY_SEED          (optional)     seeds the failures, for reproducible tests
"""

import json
import os
import random
import time

FEATURES = 10
model = None
delay_s = 0.2
failure_rate = 0.3
rng = random.Random()


def env_number(name, default, low, high):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={raw!r} must be between {low} and {high}")
    return value


def load_model(model_dir):
    """Reads model.json ({"coefficients": [10 numbers], "intercept": number}) and checks it."""
    path = os.path.join(model_dir, "model.json")
    with open(path, encoding="utf-8") as f:
        loaded = json.load(f)
    coefficients = loaded.get("coefficients") if isinstance(loaded, dict) else None
    if not isinstance(coefficients, list) or len(coefficients) != FEATURES or not all(
        is_number(c) for c in coefficients
    ):
        raise ValueError(f"{path}: \"coefficients\" must be a list of {FEATURES} numbers")
    intercept = loaded.get("intercept", 0.0)
    if not is_number(intercept):
        raise ValueError(f"{path}: \"intercept\" must be a number")
    return {"coefficients": coefficients, "intercept": intercept}


def init():
    global model, delay_s, failure_rate
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if not model_dir:
        raise ValueError("AZUREML_MODEL_DIR is not set")
    model = load_model(model_dir)
    delay_s = env_number("FAULTY_DELAY_MS", 200.0, 0.0, 600_000.0) / 1000.0
    failure_rate = env_number("FAULTY_FAILURE_RATE", 0.3, 0.0, 1.0)
    seed = os.environ.get("FAULTY_SEED", "").strip()
    if seed:
        rng.seed(seed)


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse(raw_data):
    """Azure's request shape: {"data": [[10 numbers], ...]}. Names what is wrong otherwise."""
    try:
        request = json.loads(raw_data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"the request body is not JSON: {err}") from None
    if not isinstance(request, dict) or "data" not in request:
        raise ValueError('the request has no "data" field: expected {"data": [[10 numbers], ...]}')
    rows = request["data"]
    if not isinstance(rows, list):
        raise ValueError('"data" must be a list of rows')
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != FEATURES or not all(is_number(x) for x in row):
            raise ValueError(f'row {i} of "data" must be a list of exactly {FEATURES} numbers')
    return rows


def run(raw_data):
    if delay_s > 0:
        time.sleep(delay_s)
    # rate 1 always fails and rate 0 never does: random() is in [0, 1).
    if rng.random() < failure_rate:
        raise RuntimeError("simulated model failure")
    coefficients, intercept = model["coefficients"], model["intercept"]
    return [sum(c * x for c, x in zip(coefficients, row)) + intercept for row in parse(raw_data)]
