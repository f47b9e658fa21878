//! The Azure Resource Manager (ARM) wire format of the Azure ML resources Greenlight drives:
//! online endpoints and deployments, their keys, tokens, logs and SKUs, and the model,
//! environment and code versions they reference.
//!
//! One set of types serves both ends of the wire — the ARM client that talks to Azure and the
//! local workspace that serves the same API — so every local test also exercises the real
//! protocol. The JSON shapes follow the public examples of `Azure/azure-rest-api-specs`, which
//! `tests/azure_examples.rs` round-trips.
//!
//! Three conventions keep a GET → merge → PUT from ever losing what Azure sent:
//! - every optional field is an `Option` that is left out when `None`, so "absent" stays absent
//!   (for ARM, a PUT without `traffic` is not the same as `"traffic": {}`);
//! - every struct keeps the fields it does not model in `extra` and writes them back;
//! - enums are *extensible*, as ARM's are: a value this version does not know becomes
//!   `Other(text)` and is written back verbatim; the local workspace refuses `Other`.
//!
//! Timestamps stay `String`s for the same reason: Azure writes up to seven fractional digits and
//! a re-formatted time would not be the text it sent.

/// Declares an extensible ARM string enum: known variants with their wire text, plus
/// `Other(String)` for anything else, (de)serialized through `String` so unknown values round-trip.
macro_rules! arm_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of Greenlight does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The wire text of every known value, in declaration order.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(text) => text,
                }
            }

            /// False for `Other`: a value the local workspace must refuse.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => Self::$variant, )+
                    _ => Self::Other(text),
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self::from(text.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                match value {
                    $name::Other(text) => text,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod api_version;
pub mod code_version;
pub mod environment_version;
pub mod error;
pub mod model_version;
pub mod monitor;
pub mod online_deployment;
pub mod online_endpoint;
pub mod operation;
pub mod resource;

pub use api_version::{ApiVersion, ApiVersionError};
pub use code_version::{CodeVersion, CodeVersionProperties};
pub use environment_version::{
    BuildContext, EnvironmentType, EnvironmentVersion, EnvironmentVersionProperties,
    InferenceContainerProperties, OperatingSystemType, Route,
};
pub use error::{ArmError, ArmErrorAdditionalInfo, ArmErrorResponse};
pub use model_version::{FlavorData, ModelVersion, ModelVersionProperties};
pub use online_deployment::{
    CodeConfiguration, ContainerResourceRequirements, ContainerResourceSettings, ContainerType,
    DeploymentLogs, DeploymentLogsRequest, EndpointComputeType, OnlineDeployment,
    OnlineDeploymentProperties, ProbeSettings, RequestSettings, ScaleSettings, ScaleType,
    SkuCapacity, SkuResource, SkuScaleType, SkuSetting,
};
pub use online_endpoint::{
    AuthMode, EndpointAuthKeys, EndpointAuthToken, KeyType, OnlineEndpoint,
    OnlineEndpointProperties, RegenerateEndpointKeysRequest,
};
pub use operation::{OperationState, OperationStatus};
pub use resource::{
    CreatedByType, Page, PartialSku, PartialTrackedResource, ProvisioningState,
    PublicNetworkAccess, Sku, SkuTier, SystemData, TrackedResource,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_enum_values_map_to_their_variants_and_back() {
        assert_eq!(AuthMode::from("AMLToken"), AuthMode::AmlToken);
        assert_eq!(String::from(AuthMode::AadToken), "AADToken");
        assert!(AuthMode::Key.is_known());
        assert_eq!(AuthMode::KNOWN, ["Key", "AMLToken", "AADToken"]);
    }

    #[test]
    fn unknown_enum_values_are_kept_verbatim() {
        let mode: AuthMode = serde_json::from_str("\"Certificate\"").expect("any string parses");
        assert_eq!(mode, AuthMode::Other("Certificate".into()));
        assert!(!mode.is_known());
        assert_eq!(
            serde_json::to_string(&mode).expect("serialize"),
            "\"Certificate\""
        );
    }

    #[test]
    fn enum_values_are_case_sensitive_so_they_round_trip_exactly() {
        assert_eq!(AuthMode::from("key"), AuthMode::Other("key".into()));
    }

    #[test]
    fn a_non_string_enum_value_is_refused() {
        assert!(serde_json::from_str::<AuthMode>("3").is_err());
    }
}
