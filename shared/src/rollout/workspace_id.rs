//! Greenlight's name for a connected workspace.
//!
//! Today one Greenlight instance talks to one workspace (the local one, or the Azure ML workspace
//! its flags name), so no API path or table names a workspace yet. Several are coming, and an
//! endpoint name is unique only within its workspace: the rollout and change-request tables
//! therefore store `(workspace, endpoint)` from the start, so adding a second workspace needs no
//! migration of their keys.
//!
//! A `WorkspaceId` is a short, URL-safe key chosen in Greenlight's configuration — not the ARM
//! resource id, which is long, case-insensitive and names the subscription. By default it is the
//! Azure workspace's own name lower-cased ([`WorkspaceId::from_azure_name`]); the embedded local
//! workspace is [`WorkspaceId::local`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Shortest workspace key (Azure ML's workspace name rule).
pub const WORKSPACE_ID_MIN_LEN: usize = 3;
/// Longest workspace key (Azure ML's workspace name rule).
pub const WORKSPACE_ID_MAX_LEN: usize = 33;

/// A valid workspace key: 3–33 characters, lowercase ASCII letters, digits, `-` or `_`, starting
/// with a letter or digit — Azure ML's workspace name rule, lower-cased. Lowercase only, because
/// Azure compares workspace names without case: `Prod` and `prod` must not be two keys of one
/// unique index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceId(String);

/// Why a text is not a valid workspace key; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidWorkspaceId {
    Length { len: usize },
    FirstCharacter { found: char },
    Character { found: char },
}

impl fmt::Display for InvalidWorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { len } => write!(
                f,
                "workspace must be {WORKSPACE_ID_MIN_LEN} to {WORKSPACE_ID_MAX_LEN} characters (got {len})"
            ),
            Self::FirstCharacter { found } => write!(
                f,
                "workspace must start with a lowercase letter or a digit (got {found:?})"
            ),
            Self::Character { found } => write!(
                f,
                "workspace may contain only lowercase letters, digits, '-' and '_' (got {found:?})"
            ),
        }
    }
}

impl std::error::Error for InvalidWorkspaceId {}

impl WorkspaceId {
    /// The embedded local workspace's key.
    pub const LOCAL: &'static str = "local";

    pub fn parse(raw: &str) -> Result<Self, InvalidWorkspaceId> {
        let len = raw.chars().count();
        if !(WORKSPACE_ID_MIN_LEN..=WORKSPACE_ID_MAX_LEN).contains(&len) {
            return Err(InvalidWorkspaceId::Length { len });
        }
        let lower_or_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        let mut chars = raw.chars();
        if let Some(first) = chars.next().filter(|&c| !lower_or_digit(c)) {
            return Err(InvalidWorkspaceId::FirstCharacter { found: first });
        }
        if let Some(found) = chars.find(|&c| !(lower_or_digit(c) || c == '-' || c == '_')) {
            return Err(InvalidWorkspaceId::Character { found });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key of the embedded local workspace.
    pub fn local() -> Self {
        Self(Self::LOCAL.to_owned())
    }

    /// The default key of an Azure ML workspace: its name, lower-cased.
    pub fn from_azure_name(name: &str) -> Result<Self, InvalidWorkspaceId> {
        Self::parse(&name.to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WorkspaceId {
    type Err = InvalidWorkspaceId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for WorkspaceId {
    type Error = InvalidWorkspaceId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<WorkspaceId> for String {
    fn from(value: WorkspaceId) -> Self {
        value.0
    }
}

impl AsRef<str> for WorkspaceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_ids_follow_azures_workspace_name_rule_in_lowercase() {
        for ok in ["local", "prod-eastus", "ml_ws_01", "1ws", &"a".repeat(33)] {
            assert_eq!(
                WorkspaceId::parse(ok).map(|w| w.to_string()),
                Ok(ok.to_owned())
            );
        }
        assert_eq!(
            WorkspaceId::parse("ab"),
            Err(InvalidWorkspaceId::Length { len: 2 })
        );
        assert!(WorkspaceId::parse(&"a".repeat(34)).is_err());
        assert_eq!(
            WorkspaceId::parse("-ws"),
            Err(InvalidWorkspaceId::FirstCharacter { found: '-' })
        );
        assert_eq!(
            WorkspaceId::parse("Prod"),
            Err(InvalidWorkspaceId::FirstCharacter { found: 'P' })
        );
        assert_eq!(
            WorkspaceId::parse("my ws"),
            Err(InvalidWorkspaceId::Character { found: ' ' })
        );
        assert!(WorkspaceId::parse("a/b/c")
            .expect_err("a slash")
            .to_string()
            .contains("only lowercase letters, digits, '-' and '_'"));
    }

    #[test]
    fn an_azure_workspace_name_becomes_its_lowercase_key() {
        assert_eq!(
            WorkspaceId::from_azure_name("ML-Prod").map(String::from),
            Ok("ml-prod".to_owned())
        );
        assert_eq!(WorkspaceId::local().as_str(), "local");
    }

    #[test]
    fn deserializing_a_workspace_id_applies_the_rule() {
        assert!(serde_json::from_str::<WorkspaceId>("\"UPPER\"").is_err());
        let ws: WorkspaceId = serde_json::from_str("\"local\"").expect("valid");
        assert_eq!(serde_json::to_string(&ws).expect("serialize"), "\"local\"");
    }
}
