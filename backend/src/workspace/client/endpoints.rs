//! Online endpoints: list, read, create and delete them, and change their traffic without ever
//! dropping a split another caller set in the meantime.

use super::{ArmClient, Body};
use crate::workspace::error::WorkspaceError;
use crate::workspace::observer;
use reqwest::Method;
use shared::arm::OnlineEndpoint;
use shared::traffic::effective_split;
use shared::EndpointName;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A live and mirrored split, keyed by deployment name.
pub type Split = BTreeMap<String, i64>;

impl ArmClient {
    pub async fn list_endpoints(&self) -> Result<Vec<OnlineEndpoint>, WorkspaceError> {
        self.list("/onlineEndpoints").await
    }

    pub async fn get_endpoint(
        &self,
        name: &EndpointName,
    ) -> Result<OnlineEndpoint, WorkspaceError> {
        self.read(&format!("/onlineEndpoints/{name}")).await
    }

    /// Creates an endpoint (no traffic yet) and waits until it is provisioned.
    pub async fn create_endpoint(
        &self,
        name: &EndpointName,
        mut endpoint: OnlineEndpoint,
    ) -> Result<OnlineEndpoint, WorkspaceError> {
        let serial = self.endpoint_lock(name);
        let _held = serial.lock().await;
        // Always both: a PUT without traffic zeroes it (Azure's rule, not ours).
        let properties = &mut endpoint.properties;
        properties.traffic.get_or_insert_with(Split::new);
        properties.mirror_traffic.get_or_insert_with(Split::new);
        self.put_endpoint(name, &endpoint).await?;
        self.get_endpoint(name).await
    }

    pub async fn delete_endpoint(&self, name: &EndpointName) -> Result<(), WorkspaceError> {
        let serial = self.endpoint_lock(name);
        let _held = serial.lock().await;
        self.write(Method::DELETE, &format!("/onlineEndpoints/{name}"), None)
            .await
    }

    /// Changes an endpoint's live and mirror traffic: GET, check that it is still what the
    /// caller saw (`expected`), merge, PUT with both maps, follow the operation, and re-read
    /// until the new split shows. Changes to one endpoint are serialized in this process; a
    /// stale `expected` gets `StaleTraffic` with the current endpoint, never an overwrite.
    pub async fn update_traffic(
        &self,
        name: &EndpointName,
        expected: Option<(&Split, &Split)>,
        traffic: Split,
        mirror: Split,
    ) -> Result<OnlineEndpoint, WorkspaceError> {
        let serial = self.endpoint_lock(name);
        let _held = serial.lock().await;
        let mut current = self.get_endpoint(name).await?;
        if let Some((seen_traffic, seen_mirror)) = expected {
            let (now_traffic, now_mirror) = current.properties.splits();
            if effective_split(&now_traffic) != effective_split(seen_traffic)
                || effective_split(&now_mirror) != effective_split(seen_mirror)
            {
                return Err(WorkspaceError::StaleTraffic {
                    current: Box::new(current),
                });
            }
        }
        current.properties.traffic = Some(traffic.clone());
        current.properties.mirror_traffic = Some(mirror.clone());
        self.put_endpoint(name, &current).await?;
        // Re-read until the workspace shows the new split (ARM reads can lag the write).
        observer::progress("waiting until the endpoint shows the new split");
        let deadline = Instant::now() + self.config.operation_timeout;
        loop {
            let now = self.get_endpoint(name).await?;
            let (now_traffic, now_mirror) = now.properties.splits();
            if effective_split(&now_traffic) == effective_split(&traffic)
                && effective_split(&now_mirror) == effective_split(&mirror)
            {
                return Ok(now);
            }
            if Instant::now() > deadline {
                return Err(WorkspaceError::Timeout(self.config.operation_timeout));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// PUTs the whole endpoint and follows the operation; the caller holds the endpoint's lock.
    async fn put_endpoint(
        &self,
        name: &EndpointName,
        endpoint: &OnlineEndpoint,
    ) -> Result<(), WorkspaceError> {
        let body = Body::json(endpoint)?;
        self.write(
            Method::PUT,
            &format!("/onlineEndpoints/{name}"),
            Some(&body),
        )
        .await
    }
}
