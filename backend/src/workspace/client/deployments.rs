//! Online deployments of an endpoint: list, read, create, scale and delete them, and read what
//! their instances printed.

use super::{decode, ArmClient, Body};
use crate::workspace::error::WorkspaceError;
use reqwest::Method;
use shared::arm::{
    ContainerType, DeploymentLogs, DeploymentLogsRequest, OnlineDeployment, PartialSku,
    PartialTrackedResource,
};
use shared::{DeploymentName, EndpointName};

impl ArmClient {
    pub async fn list_deployments(
        &self,
        endpoint: &EndpointName,
    ) -> Result<Vec<OnlineDeployment>, WorkspaceError> {
        self.list(&format!("/onlineEndpoints/{endpoint}/deployments"))
            .await
    }

    pub async fn get_deployment(
        &self,
        endpoint: &EndpointName,
        name: &DeploymentName,
    ) -> Result<OnlineDeployment, WorkspaceError> {
        self.read(&format!("/onlineEndpoints/{endpoint}/deployments/{name}"))
            .await
    }

    /// Creates (or replaces) a deployment and waits until its instances are ready — or the
    /// operation fails, with Azure's reason.
    pub async fn create_deployment(
        &self,
        endpoint: &EndpointName,
        name: &DeploymentName,
        deployment: &OnlineDeployment,
    ) -> Result<OnlineDeployment, WorkspaceError> {
        let body = Body::json(deployment)?;
        self.change_deployment(endpoint, name, Method::PUT, &body)
            .await
    }

    /// Sets the instance count and waits until the deployment has scaled: a PATCH of
    /// `sku.capacity` alone.
    pub async fn scale_deployment(
        &self,
        endpoint: &EndpointName,
        name: &DeploymentName,
        instances: u32,
    ) -> Result<OnlineDeployment, WorkspaceError> {
        let body = Body::json(&PartialTrackedResource {
            sku: Some(PartialSku {
                capacity: Some(i64::from(instances)),
                ..Default::default()
            }),
            ..Default::default()
        })?;
        self.change_deployment(endpoint, name, Method::PATCH, &body)
            .await
    }

    pub async fn delete_deployment(
        &self,
        endpoint: &EndpointName,
        name: &DeploymentName,
    ) -> Result<(), WorkspaceError> {
        let serial = self.endpoint_lock(endpoint);
        let _held = serial.lock().await;
        self.write(
            Method::DELETE,
            &format!("/onlineEndpoints/{endpoint}/deployments/{name}"),
            None,
        )
        .await
    }

    /// The last `tail` lines the deployment's instances printed.
    pub async fn logs(
        &self,
        endpoint: &EndpointName,
        name: &DeploymentName,
        tail: u32,
    ) -> Result<String, WorkspaceError> {
        let body = Body::json(&DeploymentLogsRequest {
            container_type: Some(ContainerType::InferenceServer),
            tail: Some(i64::from(tail)),
            ..Default::default()
        })?;
        let logs: DeploymentLogs = decode(
            self.call(
                Method::POST,
                &format!("/onlineEndpoints/{endpoint}/deployments/{name}/getLogs"),
                Some(&body),
            )
            .await?,
        )
        .await?;
        Ok(logs.content.unwrap_or_default())
    }

    /// Sends a PUT or PATCH of a deployment, one change to its endpoint at a time, follows the
    /// operation and reads the deployment back.
    async fn change_deployment(
        &self,
        endpoint: &EndpointName,
        name: &DeploymentName,
        method: Method,
        body: &Body,
    ) -> Result<OnlineDeployment, WorkspaceError> {
        let serial = self.endpoint_lock(endpoint);
        let _held = serial.lock().await;
        self.write(
            method,
            &format!("/onlineEndpoints/{endpoint}/deployments/{name}"),
            Some(body),
        )
        .await?;
        self.get_deployment(endpoint, name).await
    }
}
