"""Scoring script of the demo linear regression, in Azure ML's contract: init() once, run() per
request. Standard library only, so the local workspace needs nothing but Python 3.

Request:  {"data": [[10 numbers], [10 numbers], ...]}
Answer:   [prediction per row]  (dot product with the coefficients, plus the intercept)
"""

import json
import os

FEATURES = 10
model = None


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
    """Loads the coefficients from the model folder Azure ML mounts at AZUREML_MODEL_DIR."""
    global model
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if not model_dir:
        raise ValueError("AZUREML_MODEL_DIR is not set")
    model = load_model(model_dir)


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


def predict(rows):
    """One prediction per row: the dot product with the coefficients, plus the intercept."""
    coefficients, intercept = model["coefficients"], model["intercept"]
    return [sum(c * x for c, x in zip(coefficients, row)) + intercept for row in rows]


def run(raw_data):
    return predict(parse(raw_data))
