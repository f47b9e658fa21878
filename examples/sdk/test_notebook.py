"""The seed article's notebook, unchanged but for MLClient(...), against `greenlight emulator --tls`.

Run by scripts/test.sh with the SDK venv that scripts/setup.sh makes:
    GREENLIGHT_BIN=target/debug/greenlight $VENV/bin/python -m unittest discover -s examples/sdk

The test trains two small scikit-learn regressions, pickles them into the article's folder layout
(model-N/model/sklearn_regression_model.pkl, model-N/environment/conda.yml naming scikit-learn and
numpy, model-N/onlinescoring/score.py) and runs the article's blue/green flow with local paths. Every
answer is checked against what the pickled model itself predicts. A second run must upload nothing
(the blob writes the SDK sends are counted), and bad inputs must get errors that name the field.
"""

import base64
from datetime import datetime, timedelta, timezone
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
from urllib.parse import urlparse

import numpy as np
import requests
import sklearn
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient, ContainerSasPermissions, generate_container_sas
from sklearn.linear_model import LinearRegression

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import notebook  # noqa: E402  (the article's code)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKSPACE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local"
    "/providers/Microsoft.MachineLearningServices/workspaces/local"
)
SCORE_PY = '''
import json, os, pickle
import numpy as np

def init():
    global model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "sklearn_regression_model.pkl")
    with open(path, "rb") as f:
        model = pickle.load(f)

def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    return model.predict(data).tolist()
'''
SAMPLE = {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}


class BlobWrites:
    """Counts the blob writes (PUT outside /subscriptions) every requests session sends."""

    def __init__(self):
        self.lock = threading.Lock()
        self.puts = []
        original = requests.Session.send
        counter = self

        def send(session, request, **kwargs):
            path = urlparse(request.url).path
            if request.method == "PUT" and not path.startswith("/subscriptions/"):
                with counter.lock:
                    counter.puts.append(path)
            return original(session, request, **kwargs)

        requests.Session.send = send

    def count(self):
        with self.lock:
            return len(self.puts)


def write_model_folder(folder, coefficients, conda_dependencies=None):
    """The article's model-N folder with a regression trained on 200 synthetic rows."""
    rng = np.random.default_rng(len(coefficients) + int(sum(coefficients)))
    x = rng.normal(size=(200, 10))
    y = x @ np.array(coefficients) + 3.0
    model = LinearRegression().fit(x, y)
    os.makedirs(f"{folder}/model")
    os.makedirs(f"{folder}/environment")
    os.makedirs(f"{folder}/onlinescoring")
    with open(f"{folder}/model/sklearn_regression_model.pkl", "wb") as f:
        pickle.dump(model, f)
    dependencies = conda_dependencies or [
        f"numpy={np.__version__}",
        f"scikit-learn={sklearn.__version__}",
    ]
    with open(f"{folder}/environment/conda.yml", "w") as f:
        f.write("name: model-env\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n")
        f.writelines(f"  - {d}\n" for d in dependencies)
    with open(f"{folder}/onlinescoring/score.py", "w") as f:
        f.write(SCORE_PY)
    with open(f"{folder}/sample-request.json", "w") as f:
        json.dump(SAMPLE, f)
    return model.predict(np.array(SAMPLE["data"])).tolist()


class NotebookAgainstTheLocalWorkspace(unittest.TestCase):
    """Methods run in name order: the second run relies on the first one's uploads."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="greenlight-sdk-")
        cls.token = base64.b32encode(os.urandom(20)).decode().lower()
        binary = os.environ.get("GREENLIGHT_BIN") or os.path.join(
            os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "greenlight"
        )
        cls.emulator = subprocess.Popen(
            [binary, "emulator", "--tls", "--listen", "127.0.0.1:0", "--scoring-listen", "127.0.0.1:0",
             "--state-dir", f"{cls.tmp}/state", "--token", cls.token,
             "--examples-dir", f"{cls.tmp}/no-demo-models"],
            stdout=subprocess.PIPE, text=True,
        )
        cls.url = cls.certificate = None
        for line in cls.emulator.stdout:
            if line.startswith("HTTPS certificate to trust: "):
                cls.certificate = line.split(": ", 1)[1].strip()
            if line.startswith("Local workspace is ready at "):
                cls.url = line.rsplit(" ", 1)[1].strip()
                break
        if not cls.url or not cls.certificate:
            cls.emulator.kill()
            raise RuntimeError("greenlight emulator --tls did not start")
        threading.Thread(target=cls.emulator.stdout.read, daemon=True).start()
        # Like trusting Azurite's certificate: storage and scoring requests verify against it.
        os.environ["REQUESTS_CA_BUNDLE"] = cls.certificate
        cls.blob_writes = BlobWrites()
        cls.ml_client = notebook.connect(cls.url, cls.token)
        cls.model_1 = f"{cls.tmp}/model-1"
        cls.model_2 = f"{cls.tmp}/model-2"
        cls.expected_1 = write_model_folder(cls.model_1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        cls.expected_2 = write_model_folder(cls.model_2, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1])

    @classmethod
    def tearDownClass(cls):
        cls.emulator.terminate()
        try:
            cls.emulator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.emulator.kill()
        if not os.environ.get("GREENLIGHT_KEEP_SDK_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def answer(self, endpoint, model_folder, deployment=None):
        raw = notebook.invoke(self.ml_client, endpoint, f"{model_folder}/sample-request.json", deployment)
        return json.loads(raw)

    def assertPredicts(self, answer, expected):
        np.testing.assert_allclose(answer, expected, rtol=1e-9)

    def test_1_the_articles_blue_green_flow_with_local_files(self):
        ml_client, name = self.ml_client, "nb-rollout-1"
        endpoint, blue = notebook.create_endpoint_with_blue(ml_client, name, self.model_1)
        self.assertGreater(self.blob_writes.count(), 0, "the code and the model were uploaded")
        self.assertPredicts(self.answer(name, self.model_1), self.expected_1)

        # Scale blue.
        blue.instance_count = 2
        ml_client.online_deployments.begin_create_or_update(blue).result()
        scaled = ml_client.online_deployments.get(name="blue", endpoint_name=name)
        self.assertEqual(scaled.instance_count, 2)
        self.assertIsNotNone(scaled.scale_settings, "the final GET carries scaleSettings")

        # Green at 0 %, tested directly.
        green = notebook.deployment("green", name, self.model_2)
        ml_client.begin_create_or_update(green).result()
        self.assertPredicts(self.answer(name, self.model_2, "green"), self.expected_2)
        self.assertPredicts(self.answer(name, self.model_1), self.expected_1)

        # Mirror 10 % to green: clients still get blue's answers.
        endpoint.mirror_traffic = {"green": 10}
        ml_client.begin_create_or_update(endpoint).result()
        self.assertEqual(ml_client.online_endpoints.get(name).mirror_traffic, {"green": 10})
        for _ in range(5):
            self.assertPredicts(self.answer(name, self.model_1), self.expected_1)
        endpoint.mirror_traffic = {"green": 0}
        ml_client.begin_create_or_update(endpoint).result()

        # Shift 10 %, then everything, to green.
        endpoint.traffic = {"blue": 90, "green": 10}
        ml_client.begin_create_or_update(endpoint).result()
        self.assertEqual(ml_client.online_endpoints.get(name).traffic, {"blue": 90, "green": 10})
        endpoint.traffic = {"blue": 0, "green": 100}
        ml_client.begin_create_or_update(endpoint).result()
        self.assertPredicts(self.answer(name, self.model_2), self.expected_2)

        # Remove blue, then the endpoint.
        ml_client.online_deployments.begin_delete(name="blue", endpoint_name=name).result()
        names = [d.name for d in ml_client.online_deployments.list(endpoint_name=name)]
        self.assertEqual(names, ["green"])
        ml_client.online_endpoints.begin_delete(name=name).result()

    def test_2_a_second_run_uploads_nothing_again(self):
        before = self.blob_writes.count()
        self.assertGreater(before, 0, "the first run uploaded")
        name = "nb-rollout-2"
        notebook.create_endpoint_with_blue(self.ml_client, name, self.model_1)
        self.assertEqual(self.blob_writes.puts[before:], [], "identical code and model are reused")
        self.assertPredicts(self.answer(name, self.model_1), self.expected_1)
        self.ml_client.online_endpoints.begin_delete(name=name).result()

    def test_3_a_conda_file_that_is_not_yaml_is_refused_naming_the_field(self):
        response = requests.put(
            f"{self.url}{WORKSPACE}/environments/not-yaml/versions/1?api-version=2024-04-01",
            json={"properties": {"condaFile": "dependencies: [numpy", "image": notebook.IMAGE}},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        self.assertEqual(response.status_code, 400, response.text)
        error = response.json()["error"]
        self.assertEqual(error["target"], "properties.condaFile")
        self.assertIn("not YAML", error["message"])

    def test_4_a_package_that_does_not_exist_fails_the_deployment_with_pips_words(self):
        name = "nb-bad-package"
        folder = f"{self.tmp}/model-bad"
        write_model_folder(folder, [1] * 10, ["greenlight-no-such-package-xyz"])
        self.ml_client.begin_create_or_update(
            notebook.ManagedOnlineEndpoint(name=name, auth_mode="key")
        ).result()
        with self.assertRaises(Exception) as failure:
            self.ml_client.begin_create_or_update(notebook.deployment("blue", name, folder)).result()
        message = str(failure.exception)
        print(f"\n    the SDK raised: {message.splitlines()[0][:400]}", file=sys.stderr)
        self.assertIn("greenlight-no-such-package-xyz", message)
        self.assertIn("environmentId", message)
        logs = self.ml_client.online_deployments.get_logs(name="blue", endpoint_name=name, lines=100)
        self.assertIn("No matching distribution found for greenlight-no-such-package-xyz", logs)
        self.ml_client.online_endpoints.begin_delete(name=name).result()

    def test_5_a_blob_upload_with_a_wrong_key_is_refused_403(self):
        datastore = self.ml_client.datastores.get("workspaceblobstore")
        account_url = f"https://{datastore.account_name}.blob.local"
        wrong_key = base64.b64encode(os.urandom(64)).decode()
        blob = BlobClient(account_url, datastore.container_name, "wrong-key/x.txt", credential=wrong_key)
        with self.assertRaises(HttpResponseError) as refused:
            blob.upload_blob(b"x")
        self.assertEqual(refused.exception.status_code, 403)
        self.assertEqual(refused.exception.error_code, "AuthenticationFailed")

    def test_6_a_sas_signed_by_the_official_client_works_until_it_expires(self):
        datastore = self.ml_client.datastores.get("workspaceblobstore")
        key = self.ml_client.datastores._list_secrets("workspaceblobstore").key
        account = f"{datastore.account_name}.blob.local"
        account_name = account.split("/", 1)[1]  # the path-style account, as the client signs it

        def upload_with_sas(expiry):
            sas = generate_container_sas(
                account_name, datastore.container_name, account_key=key,
                permission=ContainerSasPermissions(read=True, write=True, create=True), expiry=expiry,
            )
            blob = BlobClient(f"https://{account}", datastore.container_name, "sas/x.txt", credential=sas)
            return blob.upload_blob(b"x", overwrite=True)

        upload_with_sas(datetime.now(timezone.utc) + timedelta(hours=1))
        with self.assertRaises(HttpResponseError) as refused:
            upload_with_sas(datetime.now(timezone.utc) - timedelta(minutes=5))
        self.assertEqual(refused.exception.status_code, 403)
        self.assertEqual(refused.exception.error_code, "AuthenticationFailed")
        self.assertIn("time frame", refused.exception.message)


if __name__ == "__main__":
    unittest.main()
