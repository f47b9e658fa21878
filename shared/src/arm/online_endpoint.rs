//! Online endpoints (`.../workspaces/{w}/onlineEndpoints/{e}`) and their key and token
//! sub-resources (`listKeys`, `regenerateKeys`, `token`).

use super::resource::{ProvisioningState, PublicNetworkAccess, TrackedResource};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// An online endpoint as ARM returns it and as a PUT sends it.
pub type OnlineEndpoint = TrackedResource<OnlineEndpointProperties>;

/// `properties` of an online endpoint: how callers authenticate, where they send requests, and
/// how requests are split over the deployments.
///
/// Before a PUT, always start from a fresh GET and send `traffic` *and* `mirror_traffic`
/// back: Azure treats a PUT without `traffic` as "no live traffic" (see `DESIGN.md`). The split
/// rules are in [`crate::traffic::check_traffic`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineEndpointProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form string properties set by the creator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, String>>,
    /// Required by Azure on PUT; optional here so a partial body still parses and can be
    /// refused with a field-level message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<AuthMode>,
    /// Keys to set on creation (write-only; read them back with `listKeys`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<EndpointAuthKeys>,
    /// Where callers POST scoring requests. Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scoring_uri: Option<String>,
    /// Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swagger_uri: Option<String>,
    /// Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// ARM id of the compute, for Kubernetes endpoints only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    /// Percent of live requests per deployment name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<BTreeMap<String, i64>>,
    /// Percent of live requests *copied* to a deployment, whose answers are discarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror_traffic: Option<BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_network_access: Option<PublicNetworkAccess>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl OnlineEndpointProperties {
    /// The live and the mirror split, an absent map read as an empty one.
    pub fn splits(&self) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
        (
            self.traffic.clone().unwrap_or_default(),
            self.mirror_traffic.clone().unwrap_or_default(),
        )
    }
}

arm_enum! {
    /// How callers of the scoring URI authenticate.
    pub enum AuthMode {
        /// A static key from `listKeys`, which does not expire.
        Key => "Key",
        /// A short-lived Azure ML token from the `token` action.
        AmlToken => "AMLToken",
        /// A Microsoft Entra ID token.
        AadToken => "AADToken",
    }
}

/// The two keys of a key-authenticated endpoint (`listKeys`), or keys to set on creation.
///
/// Two keys so one can be regenerated while callers still use the other. `Debug` hides them so
/// they never end up in a log.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAuthKeys {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_key: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl fmt::Debug for EndpointAuthKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointAuthKeys")
            .field("primary_key", &redacted(&self.primary_key))
            .field("secondary_key", &redacted(&self.secondary_key))
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A scoring token (`token` action) for an `AMLToken` endpoint. Times are Unix seconds.
/// `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAuthToken {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_time_utc: Option<i64>,
    /// When to fetch a new token, before this one expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_after_time_utc: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl fmt::Debug for EndpointAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointAuthToken")
            .field("access_token", &redacted(&self.access_token))
            .field("expiry_time_utc", &self.expiry_time_utc)
            .field("refresh_after_time_utc", &self.refresh_after_time_utc)
            .field("token_type", &self.token_type)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The body of `regenerateKeys`: which key to replace, and optionally its new value (else
/// the service generates one). `Debug` hides the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegenerateEndpointKeysRequest {
    pub key_type: KeyType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_value: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl fmt::Debug for RegenerateEndpointKeysRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegenerateEndpointKeysRequest")
            .field("key_type", &self.key_type)
            .field("key_value", &redacted(&self.key_value))
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

arm_enum! {
    /// Which of the two endpoint keys.
    pub enum KeyType {
        Primary => "Primary",
        Secondary => "Secondary",
    }
}

/// What `Debug` shows instead of a secret: whether one is set, never its text.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_and_empty_traffic_stay_different() {
        let absent: OnlineEndpointProperties =
            serde_json::from_value(json!({"authMode": "Key"})).expect("parse");
        let empty: OnlineEndpointProperties =
            serde_json::from_value(json!({"authMode": "Key", "traffic": {}})).expect("parse");
        assert_eq!(absent.traffic, None);
        assert_eq!(empty.traffic, Some(BTreeMap::new()));
        assert_eq!(
            serde_json::to_value(&empty).expect("serialize"),
            json!({"authMode": "Key", "traffic": {}})
        );
    }

    #[test]
    fn traffic_and_mirror_traffic_read_as_integer_maps() {
        let p: OnlineEndpointProperties = serde_json::from_value(json!({
            "traffic": {"blue": 90, "green": 10}, "mirrorTraffic": {"green": 0}
        }))
        .expect("parse");
        assert_eq!(p.traffic.as_ref().and_then(|t| t.get("blue")), Some(&90));
        assert_eq!(
            p.mirror_traffic.as_ref().and_then(|t| t.get("green")),
            Some(&0)
        );
    }

    #[test]
    fn fractional_traffic_is_refused_by_the_types() {
        let r =
            serde_json::from_value::<OnlineEndpointProperties>(json!({"traffic": {"blue": 99.5}}));
        assert!(r.is_err());
    }

    #[test]
    fn debug_output_never_shows_keys_or_tokens() {
        let keys = EndpointAuthKeys {
            primary_key: Some("pk-secret".into()),
            secondary_key: None,
            ..Default::default()
        };
        let token = EndpointAuthToken {
            access_token: Some("tok-secret".into()),
            ..Default::default()
        };
        let regen = RegenerateEndpointKeysRequest {
            key_type: KeyType::Primary,
            key_value: Some("new-secret".into()),
            extra: BTreeMap::new(),
        };
        let text = format!("{keys:?} {token:?} {regen:?}");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn regenerate_needs_a_key_type() {
        assert!(serde_json::from_value::<RegenerateEndpointKeysRequest>(json!({})).is_err());
        let r: RegenerateEndpointKeysRequest =
            serde_json::from_value(json!({"keyType": "Secondary"})).expect("parse");
        assert_eq!(r.key_type, KeyType::Secondary);
    }
}
