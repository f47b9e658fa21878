"""A deliberately bad release of the demo regression: slower, and failing a share of requests.
For testing rollout gates and rollback. Same contract and coefficients file as v2.

FAULTY_DELAY_MS (default 200): sleep before each answer.
FAULTY_FAILURE_RATE (default 0.3): share of requests that raise.
FAULTY_SEED (optional): seeds the failures, for reproducible tests."""

import json
import os
import random
import time

FEATURES = 10
model = None
rng = random.Random()


def init():
    global model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")
    with open(path, encoding="utf-8") as f:
        model = json.load(f)
    if len(model.get("coefficients", [])) != FEATURES:
        raise ValueError(f"{path} must hold {FEATURES} coefficients")
    seed = os.environ.get("FAULTY_SEED")
    if seed is not None:
        rng.seed(seed)


def run(raw_data):
    time.sleep(float(os.environ.get("FAULTY_DELAY_MS", "200")) / 1000.0)
    if rng.random() < float(os.environ.get("FAULTY_FAILURE_RATE", "0.3")):
        raise RuntimeError("simulated model failure")
    request = json.loads(raw_data)
    rows = request["data"]
    coefficients, intercept = model["coefficients"], model.get("intercept", 0.0)
    return [sum(c * x for c, x in zip(coefficients, row)) + intercept for row in rows]
