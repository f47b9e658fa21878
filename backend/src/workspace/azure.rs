//! The ARM client for an Azure ML workspace: settings checked up front, a token from the chosen
//! `azure_identity` credential.

use super::azure_credential::AzureToken;
use super::azure_transport::ReqwestTransport;
use super::client::{ArmClient, ArmClientConfig};
use super::retry::RetryPolicy;
use crate::config::{AzureArgs, AzureCredentialKind};
use anyhow::{bail, Context};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, DeveloperToolsCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use std::sync::Arc;
use std::time::Duration;

fn required(value: &Option<String>, flag: &str) -> anyhow::Result<String> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => bail!("--workspace azure needs {flag}"),
    }
}

/// ARM must be reached over TLS; plain http only on loopback (a local stand-in, a test).
fn checked_endpoint(raw: &str, flag: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(raw).with_context(|| format!("{flag} {raw:?} is not a URL"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        bail!("{flag} must be an https URL (plain http only on loopback), got {raw:?}");
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn env_var(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| {
            format!("--azure-credential client-secret needs {name} in the environment")
        })
}

fn credential(
    args: &AzureArgs,
    http: &reqwest::Client,
) -> anyhow::Result<Arc<dyn TokenCredential>> {
    let client_options = || ClientOptions {
        transport: Some(Transport::new(Arc::new(ReqwestTransport(http.clone())))),
        ..ClientOptions::default()
    };
    Ok(match args.azure_credential {
        AzureCredentialKind::DeveloperTools => DeveloperToolsCredential::new(None)?,
        AzureCredentialKind::AzureCli => AzureCliCredential::new(None)?,
        AzureCredentialKind::ManagedIdentity => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: args
                    .azure_managed_identity_client_id
                    .clone()
                    .map(UserAssignedId::ClientId),
                client_options: client_options(),
            }))?
        }
        AzureCredentialKind::ClientSecret => ClientSecretCredential::new(
            &env_var("AZURE_TENANT_ID")?,
            env_var("AZURE_CLIENT_ID")?,
            azure_core::credentials::Secret::new(env_var("AZURE_CLIENT_SECRET")?),
            Some(azure_identity::ClientSecretCredentialOptions {
                client_options: client_options(),
            }),
        )?,
    })
}

/// The client for `args`' Azure ML workspace. Nothing is asked of Azure yet: a credential that
/// cannot give a token fails the first request, with its reason, not the start.
pub fn client(args: &AzureArgs) -> anyhow::Result<ArmClient> {
    let subscription = required(&args.azure_subscription, "--azure-subscription")?;
    let resource_group = required(&args.azure_resource_group, "--azure-resource-group")?;
    let workspace = required(&args.azure_workspace, "--azure-workspace")?;
    let base_url = checked_endpoint(&args.arm_endpoint, "--arm-endpoint")?;
    let audience = match &args.arm_audience {
        Some(audience) => checked_endpoint(audience, "--arm-audience")?,
        None => base_url.clone(),
    };
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let token = AzureToken::new(credential(args, &http)?, format!("{audience}/.default"));
    Ok(ArmClient::with_http(
        ArmClientConfig {
            base_url,
            subscription,
            resource_group,
            workspace,
            api_version: ArmClientConfig::API_VERSION.into(),
            retry: RetryPolicy::default(),
            operation_timeout: Duration::from_secs(30 * 60),
            raw_samples: false,
        },
        Arc::new(token),
        http,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_endpoints_need_tls_except_on_loopback() {
        assert!(checked_endpoint("https://management.azure.com/", "--arm-endpoint").is_ok());
        assert!(checked_endpoint("http://127.0.0.1:8090", "--arm-endpoint").is_ok());
        let refused = checked_endpoint("http://arm.example.com", "--arm-endpoint")
            .expect_err("plain http to a remote host");
        assert!(refused.to_string().contains("--arm-endpoint"), "{refused}");
    }
}
