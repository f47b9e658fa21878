"""Scoring script of the demo linear regression, in Azure ML's contract: init() once, run() per
request. Standard library only, so the local workspace needs nothing but Python 3."""

import json
import os

FEATURES = 10
model = None


def init():
    """Loads the coefficients from model.json in the model folder Azure ML mounts."""
    global model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")
    with open(path, encoding="utf-8") as f:
        loaded = json.load(f)
    if len(loaded.get("coefficients", [])) != FEATURES:
        raise ValueError(f"{path} must hold {FEATURES} coefficients")
    model = loaded


def predict(rows):
    """One prediction per row: the dot product with the coefficients, plus the intercept."""
    coefficients, intercept = model["coefficients"], model.get("intercept", 0.0)
    return [sum(c * x for c, x in zip(coefficients, row)) + intercept for row in rows]


def parse(raw_data):
    """Azure's request shape: {"data": [[10 numbers], ...]}. Names what is wrong otherwise."""
    try:
        request = json.loads(raw_data)
    except ValueError as err:
        raise ValueError(f"the request is not JSON: {err}") from None
    if not isinstance(request, dict) or "data" not in request:
        raise ValueError('the request needs a "data" field: a list of rows')
    rows = request["data"]
    if not isinstance(rows, list):
        raise ValueError('"data" must be a list of rows')
    for i, row in enumerate(rows):
        numeric = isinstance(row, list) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in row
        )
        if not numeric or len(row) != FEATURES:
            raise ValueError(f"row {i} of \"data\" must be a list of {FEATURES} numbers")
    return rows


def run(raw_data):
    return predict(parse(raw_data))
