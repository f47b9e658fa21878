//! The parts every ARM resource shares: the envelope around `properties`, its SKU and system
//! data, the PATCH body, the paged list, and the enums several resource kinds use.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The ARM envelope of a resource: identity and bookkeeping around the kind-specific
/// `properties`.
///
/// Used for tracked resources (endpoints, deployments) and, with `location`/`tags`/`sku` left
/// out, for proxy resources (model, environment and code versions), which ARM shapes the same
/// way. Every envelope field is optional because request bodies carry only some of them (a PUT
/// has no `id`, `name`, `type` or `systemData`); `properties` is required because every body
/// Greenlight sends or receives for these resources has it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackedResource<P> {
    /// The full ARM resource id, `/subscriptions/.../onlineEndpoints/{name}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// e.g. `Microsoft.MachineLearningServices/workspaces/onlineEndpoints`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Managed identity (`type`, `principalId`, `userAssignedIdentities`...). Greenlight never
    /// changes it, so it is passed through untyped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    pub properties: P,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The body of a PATCH (`update`): only tags, identity and SKU, never `properties`.
///
/// ARM calls these `PartialMinimalTrackedResourceWithIdentity` (endpoints) and
/// `PartialMinimalTrackedResourceWithSku` (deployments); one type covers both. Scaling a
/// deployment is a PATCH of `sku.capacity`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialTrackedResource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<PartialSku>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A resource's SKU. For an online deployment `capacity` is its instance count.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<SkuTier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A SKU in a PATCH body: like [`Sku`] but every field optional, `name` included.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialSku {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<SkuTier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// The pricing tier of a SKU.
    pub enum SkuTier {
        Free => "Free",
        Basic => "Basic",
        Standard => "Standard",
        Premium => "Premium",
    }
}

/// Who created and last changed a resource, and when. ARM sets it; clients never send it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemData {
    /// RFC 3339 text, e.g. `2020-01-01T12:34:56.999Z`, kept as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_type: Option<CreatedByType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_by_type: Option<CreatedByType>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// The kind of principal in [`SystemData`].
    pub enum CreatedByType {
        User => "User",
        Application => "Application",
        ManagedIdentity => "ManagedIdentity",
        Key => "Key",
    }
}

arm_enum! {
    /// Where a resource is in its life. Deployments also report `Scaling`; endpoints never do.
    pub enum ProvisioningState {
        Creating => "Creating",
        Updating => "Updating",
        Scaling => "Scaling",
        Deleting => "Deleting",
        Succeeded => "Succeeded",
        Failed => "Failed",
        Canceled => "Canceled",
    }
}

impl ProvisioningState {
    /// True once no operation is running on the resource any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

arm_enum! {
    /// Whether a resource is reachable from (or, for deployments' egress, may reach) the
    /// public internet.
    pub enum PublicNetworkAccess {
        Enabled => "Enabled",
        Disabled => "Disabled",
    }
}

/// One page of an ARM list: `{"value": [...], "nextLink": "..."}`. Follow `next_link` (a full
/// URL) until it is absent to read the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// Missing `value` reads as an empty page, the way ARM clients treat it.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            value: Vec::new(),
            next_link: None,
            extra: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_put_body_without_envelope_fields_serializes_only_what_is_set() {
        let body = TrackedResource {
            location: Some("local".into()),
            properties: json!({"a": 1}),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&body).expect("serialize"),
            json!({"location": "local", "properties": {"a": 1}})
        );
    }

    #[test]
    fn unknown_envelope_fields_are_kept() {
        let v = json!({"name": "e", "etag": "W/1", "properties": {}});
        let r: TrackedResource<Value> = serde_json::from_value(v.clone()).expect("parse");
        assert_eq!(r.extra.get("etag"), Some(&json!("W/1")));
        assert_eq!(serde_json::to_value(&r).expect("serialize"), v);
    }

    #[test]
    fn the_resource_type_is_written_as_type() {
        let r: TrackedResource<Value> =
            serde_json::from_value(json!({"type": "Microsoft.X/y", "properties": null}))
                .expect("parse");
        assert_eq!(r.resource_type.as_deref(), Some("Microsoft.X/y"));
    }

    #[test]
    fn a_missing_value_reads_as_an_empty_page() {
        let page: Page<Value> = serde_json::from_value(json!({})).expect("parse");
        assert!(page.value.is_empty());
        assert_eq!(page.next_link, None);
    }

    #[test]
    fn only_succeeded_failed_and_canceled_are_terminal() {
        let terminal: Vec<&str> = ProvisioningState::KNOWN
            .iter()
            .copied()
            .filter(|s| ProvisioningState::from(*s).is_terminal())
            .collect();
        assert_eq!(terminal, ["Succeeded", "Failed", "Canceled"]);
        assert!(!ProvisioningState::from("Provisioning").is_terminal());
    }
}
