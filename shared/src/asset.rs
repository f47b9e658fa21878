//! A reference to one registered asset version, read once here so the console API, the assets
//! route and the local workspace accept and resolve exactly the same references.
//!
//! Azure ML takes two spellings: the short `azureml:<name>:<version>`, whose kind the field it
//! sits in decides (a deployment's `model` is a model), and the version's ARM id, which ends
//! `/{models|environments|codes}/{name}/versions/{version}` after its workspace's path.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of registered asset a deployment references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Models,
    Environments,
    Codes,
}

impl AssetKind {
    /// The ARM collection name, which is also the URL segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Models => "models",
            Self::Environments => "environments",
            Self::Codes => "codes",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "models" => Some(Self::Models),
            "environments" => Some(Self::Environments),
            "codes" => Some(Self::Codes),
            _ => None,
        }
    }
}

impl fmt::Display for AssetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a registered asset. Shown as its short form, `azureml:<name>:<version>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRef {
    pub kind: AssetKind,
    pub name: String,
    pub version: String,
}

/// Why a text is not a reference to an asset version of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetRefError {
    /// Starts `azureml:` but does not go on `<name>:<version>`.
    ShortForm { reference: String },
    /// Neither the short form nor the ARM id of a version of `kind`.
    NotOfKind { reference: String, kind: AssetKind },
}

impl fmt::Display for AssetRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShortForm { reference } => {
                write!(f, "{reference} should be azureml:<name>:<version>")
            }
            Self::NotOfKind { reference, kind } => {
                write!(f, "{reference} is not a {kind} asset reference")
            }
        }
    }
}

impl std::error::Error for AssetRefError {}

const SHORT_PREFIX: &str = "azureml:";

impl AssetRef {
    /// Reads `azureml:<name>:<version>` as a version of `kind`, or an ARM id whose last four
    /// segments are `{kind}/{name}/versions/{version}` (segment names compared without case).
    pub fn parse(reference: &str, kind: AssetKind) -> Result<Self, AssetRefError> {
        if let Some(short) = reference.strip_prefix(SHORT_PREFIX) {
            return match short.split_once(':') {
                Some((name, version)) if !name.is_empty() && !version.is_empty() => {
                    Ok(Self::new(kind, name, version))
                }
                _ => Err(AssetRefError::ShortForm {
                    reference: reference.to_owned(),
                }),
            };
        }
        let segments: Vec<&str> = reference.rsplitn(5, '/').collect();
        match segments.as_slice() {
            [version, versions, name, of_kind, _]
                if reference.starts_with('/')
                    && versions.eq_ignore_ascii_case("versions")
                    && of_kind.eq_ignore_ascii_case(kind.as_str())
                    && !name.is_empty()
                    && !version.is_empty() =>
            {
                Ok(Self::new(kind, name, version))
            }
            _ => Err(AssetRefError::NotOfKind {
                reference: reference.to_owned(),
                kind,
            }),
        }
    }

    /// A version named by its parts, e.g. from the segments of an ARM path.
    pub fn new(kind: AssetKind, name: &str, version: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            version: version.to_owned(),
        }
    }

    /// The version's ARM id in the workspace whose id is `workspace_id`.
    pub fn id_in(&self, workspace_id: &str) -> String {
        format!(
            "{workspace_id}/{}/{}/versions/{}",
            self.kind, self.name, self.version
        )
    }

    /// True when both name the same version: Azure compares names without case, and a
    /// reference means the same asset whichever workspace path it was written under.
    pub fn same_version(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.name.eq_ignore_ascii_case(&other.name)
            && self.version.eq_ignore_ascii_case(&other.version)
    }
}

impl fmt::Display for AssetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SHORT_PREFIX}{}:{}", self.name, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL_ID: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/models/m/versions/1";

    fn model(name: &str, version: &str) -> AssetRef {
        AssetRef::new(AssetKind::Models, name, version)
    }

    #[test]
    fn asset_ids_split_into_kind_name_and_version() {
        assert_eq!(
            AssetRef::parse(MODEL_ID, AssetKind::Models),
            Ok(model("m", "1"))
        );
        assert!(AssetRef::parse("/x/models/m/1", AssetKind::Models).is_err());
        assert!(AssetRef::parse("models", AssetKind::Models).is_err());
    }

    #[test]
    fn asset_references_take_the_short_and_the_arm_form() {
        assert_eq!(
            AssetRef::parse("azureml:m:1", AssetKind::Models),
            Ok(model("m", "1"))
        );
        assert!(AssetRef::parse(MODEL_ID, AssetKind::Models).is_ok());
        assert!(AssetRef::parse("azureml:m", AssetKind::Models).is_err());
        assert!(AssetRef::parse("/x/codes/m/versions/1", AssetKind::Models).is_err());
    }

    #[test]
    fn the_short_form_takes_its_kind_from_the_field_it_sits_in() {
        let code = AssetRef::parse("azureml:score:2", AssetKind::Codes).expect("short form");
        assert_eq!(code.kind, AssetKind::Codes);
        assert_eq!((code.name.as_str(), code.version.as_str()), ("score", "2"));
    }

    #[test]
    fn the_segments_of_an_arm_id_are_read_without_case() {
        let id = "/subscriptions/s/workspaces/w/Models/M/Versions/1";
        assert_eq!(AssetRef::parse(id, AssetKind::Models), Ok(model("M", "1")));
    }

    #[test]
    fn a_reference_without_a_name_or_a_version_is_refused() {
        for text in [
            "azureml::1",
            "azureml:m:",
            "/w/models//versions/1",
            "/w/models/m/versions/",
        ] {
            assert!(AssetRef::parse(text, AssetKind::Models).is_err(), "{text}");
        }
        assert!(
            AssetRef::parse("models/m/versions/1", AssetKind::Models).is_err(),
            "an ARM id starts with '/'"
        );
    }

    #[test]
    fn refusals_say_which_form_was_meant() {
        let short = AssetRef::parse("azureml:m", AssetKind::Models).expect_err("no version");
        assert_eq!(
            short.to_string(),
            "azureml:m should be azureml:<name>:<version>"
        );
        let other = AssetRef::parse("/w/codes/c/versions/1", AssetKind::Models)
            .expect_err("a code, not a model");
        assert_eq!(
            other.to_string(),
            "/w/codes/c/versions/1 is not a models asset reference"
        );
    }

    #[test]
    fn a_reference_shows_as_its_short_form_and_places_itself_in_a_workspace() {
        let m = model("m", "1");
        assert_eq!(m.to_string(), "azureml:m:1");
        assert_eq!(
            m.id_in("/subscriptions/s/workspaces/w"),
            "/subscriptions/s/workspaces/w/models/m/versions/1"
        );
    }

    #[test]
    fn asset_ids_match_across_workspaces_by_their_tail() {
        let registered = AssetRef::parse(
            "/subscriptions/s/resourceGroups/g/providers/P/workspaces/w/models/M/versions/1",
            AssetKind::Models,
        )
        .expect("registered id");
        let asked = AssetRef::parse(
            "/subscriptions/t/workspaces/v/models/m/versions/1",
            AssetKind::Models,
        )
        .expect("asked id");
        assert!(registered.same_version(&asked));
        assert!(!registered.same_version(&model("m", "2")));
        let code = AssetRef::parse("azureml:m:1", AssetKind::Codes).expect("code");
        assert!(!registered.same_version(&code), "a code is not a model");
    }
}
