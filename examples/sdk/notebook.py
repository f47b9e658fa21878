"""The seed article's notebook code ("Safe rollout for managed online endpoints", azure-ai-ml SDK),
as written there: local-path Model, Environment(conda_file, image) and CodeConfiguration(code=dir).

Only `connect()` differs from the article: it builds the MLClient for the local workspace. Everything
after it is the article's code, run against whatever workspace the client points at.
"""

import time

from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
)
from azure.core.credentials import AccessToken


class LocalWorkspaceToken:
    """The local workspace's bearer token as an azure-core credential."""

    def __init__(self, token):
        self._token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self._token, int(time.time()) + 3600)


def connect(url, token):
    """MLClient for the local workspace at `url` (e.g. https://127.0.0.1:8090): a cloud whose
    resource manager is the local workspace. The storage suffix can be anything: the local
    workspace's datastore names its own address as the account (see README)."""
    return MLClient(
        LocalWorkspaceToken(token),
        subscription_id="00000000-0000-0000-0000-000000000000",
        resource_group_name="local",
        workspace_name="local",
        cloud="GreenlightLocal",
        cloud_metadata={
            "azure_portal": url + "/",
            "resource_manager": url + "/",
            "active_directory": url + "/",
            "aml_resource_id": url + "/",
            "storage_endpoint": "local",
            "registry_discovery_endpoint": url + "/",
        },
        show_progress=False,
    )


IMAGE = "mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:20210727.v1"


def deployment(name, endpoint_name, folder, instance_count=1):
    """A deployment of the model in `folder` (model-1 / model-2 of the article's layout)."""
    model = Model(path=f"{folder}/model/sklearn_regression_model.pkl")
    env = Environment(conda_file=f"{folder}/environment/conda.yml", image=IMAGE)
    return ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint_name,
        model=model,
        environment=env,
        code_configuration=CodeConfiguration(code=f"{folder}/onlinescoring", scoring_script="score.py"),
        instance_type="Standard_DS3_v2",
        instance_count=instance_count,
    )


def create_endpoint_with_blue(ml_client, endpoint_name, model_1):
    """The article's first half: endpoint, blue deployment, 100 % to blue."""
    endpoint = ManagedOnlineEndpoint(
        name=endpoint_name,
        description="this is a sample endpoint",
        auth_mode="key",
        tags={"foo": "bar"},
    )
    ml_client.begin_create_or_update(endpoint).result()
    blue_deployment = deployment("blue", endpoint_name, model_1)
    ml_client.begin_create_or_update(blue_deployment).result()
    endpoint.traffic = {"blue": 100}
    ml_client.begin_create_or_update(endpoint).result()
    return endpoint, blue_deployment


def invoke(ml_client, endpoint_name, request_file, deployment_name=None):
    # azure-ai-ml 1.35 keeps `azureml-model-deployment` in a class-level dict once one call named
    # a deployment (`headers = EndpointInvokeFields.DEFAULT_HEADER`, then mutated), so every later
    # call would go to that deployment, on Azure too. Forget it before a call that names none.
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    EndpointInvokeFields.DEFAULT_HEADER.pop(EndpointInvokeFields.MODEL_DEPLOYMENT, None)
    kwargs = {"deployment_name": deployment_name} if deployment_name else {}
    return ml_client.online_endpoints.invoke(
        endpoint_name=endpoint_name, request_file=request_file, **kwargs
    )
