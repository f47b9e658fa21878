//! The Azure ML rule for online endpoint and deployment names, checked once here so the console
//! form, the server and the local workspace refuse exactly the names Azure refuses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Shortest name Azure ML accepts for an online endpoint or deployment.
pub const RESOURCE_NAME_MIN_LEN: usize = 3;
/// Longest name Azure ML accepts for an online endpoint or deployment.
pub const RESOURCE_NAME_MAX_LEN: usize = 32;

/// A valid online endpoint or deployment name: 3–32 characters matching
/// `^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`.
///
/// The name becomes part of the scoring host name and of the ARM resource id, which is why Azure
/// allows so little; holding a `ResourceName` means the check has already been done.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceName(String);

/// Why a text is not a valid endpoint or deployment name; the message names the broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Fewer than 3 or more than 32 characters.
    Length { len: usize },
    /// The first character is not an ASCII letter.
    FirstCharacter { found: char },
    /// A character other than an ASCII letter, digit or `-`.
    Character { found: char },
    /// The last character is `-`.
    TrailingHyphen,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Length { len } => write!(
                f,
                "name must be {RESOURCE_NAME_MIN_LEN} to {RESOURCE_NAME_MAX_LEN} characters (got {len})"
            ),
            NameError::FirstCharacter { found } => {
                write!(f, "name must start with a letter (got {found:?})")
            }
            NameError::Character { found } => write!(
                f,
                "name may contain only letters, digits and '-' (got {found:?})"
            ),
            NameError::TrailingHyphen => f.write_str("name must not end with '-'"),
        }
    }
}

impl std::error::Error for NameError {}

impl ResourceName {
    /// Checks the rules in the order a person fixes them: length, first character, the characters
    /// in between, last character. "Letter" and "digit" mean ASCII only, as in Azure's regex.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let len = raw.chars().count();
        if !(RESOURCE_NAME_MIN_LEN..=RESOURCE_NAME_MAX_LEN).contains(&len) {
            return Err(NameError::Length { len });
        }
        let mut chars = raw.chars();
        if let Some(first) = chars.next() {
            if !first.is_ascii_alphabetic() {
                return Err(NameError::FirstCharacter { found: first });
            }
        }
        if let Some(found) = chars.find(|&c| !(c.is_ascii_alphanumeric() || c == '-')) {
            return Err(NameError::Character { found });
        }
        if raw.ends_with('-') {
            return Err(NameError::TrailingHyphen);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ResourceName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ResourceName {
    type Error = NameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ResourceName> for String {
    fn from(value: ResourceName) -> Self {
        value.0
    }
}

impl AsRef<str> for ResourceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names of one kind of workspace object: each is a [`ResourceName`] that can't be mixed up with
/// another kind's, so an endpoint name is never passed where a deployment name belongs.
macro_rules! workspace_object_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(ResourceName);

        impl $name {
            /// Checks Azure's name rule ([`ResourceName::parse`]).
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                ResourceName::parse(raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl From<ResourceName> for $name {
            fn from(name: ResourceName) -> Self {
                Self(name)
            }
        }

        impl FromStr for $name {
            type Err = NameError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0.into()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

workspace_object_name!(
    /// A valid online endpoint name.
    EndpointName
);
workspace_object_name!(
    /// A valid deployment name (unique within its endpoint).
    DeploymentName
);

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(name: &str) -> NameError {
        ResourceName::parse(name).expect_err("the name should be refused")
    }

    #[test]
    fn endpoint_and_deployment_names_follow_the_same_rule() {
        assert_eq!(
            EndpointName::parse("my-endpoint").map(|n| n.to_string()),
            Ok("my-endpoint".to_owned())
        );
        assert_eq!(
            DeploymentName::parse("bl"),
            Err(NameError::Length { len: 2 })
        );
        let parsed: DeploymentName = serde_json::from_str("\"green\"").expect("a valid name");
        assert_eq!(parsed.as_str(), "green");
        assert!(serde_json::from_str::<EndpointName>("\"-bad\"").is_err());
    }

    #[test]
    fn names_from_the_safe_rollout_tutorial_are_accepted() {
        for name in [
            "blue",
            "green",
            "my-endpoint",
            "endpt-moe-1234",
            "A1b",
            "abc",
        ] {
            assert_eq!(
                ResourceName::parse(name).map(|n| n.to_string()),
                Ok(name.to_owned())
            );
        }
    }

    #[test]
    fn three_and_thirty_two_characters_are_the_inclusive_bounds() {
        assert!(ResourceName::parse("abc").is_ok());
        assert!(ResourceName::parse(&"a".repeat(32)).is_ok());
        assert_eq!(refusal("ab"), NameError::Length { len: 2 });
        assert_eq!(refusal(&"a".repeat(33)), NameError::Length { len: 33 });
        assert_eq!(refusal(""), NameError::Length { len: 0 });
    }

    #[test]
    fn the_length_message_names_the_bounds_and_the_length() {
        let message = refusal(&"a".repeat(40)).to_string();
        assert!(message.contains("must be 3 to 32 characters"), "{message}");
        assert!(message.contains("40"), "{message}");
    }

    #[test]
    fn a_name_must_start_with_a_letter() {
        for name in ["1abc", "-abc", "_abc", "ébc"] {
            let err = refusal(name);
            assert!(
                matches!(err, NameError::FirstCharacter { .. }),
                "{name}: {err:?}"
            );
            assert!(err.to_string().contains("must start with a letter"));
        }
    }

    #[test]
    fn only_letters_digits_and_hyphens_are_allowed() {
        for name in ["ab_c", "ab.c", "ab c", "abé", "blue/green"] {
            let err = refusal(name);
            assert!(
                matches!(err, NameError::Character { .. }),
                "{name}: {err:?}"
            );
            assert!(err
                .to_string()
                .contains("may contain only letters, digits and '-'"));
        }
    }

    #[test]
    fn the_character_message_shows_the_offending_character() {
        assert!(refusal("ab_c").to_string().contains("'_'"));
    }

    #[test]
    fn a_name_must_not_end_with_a_hyphen() {
        assert_eq!(refusal("blue-"), NameError::TrailingHyphen);
        assert!(refusal("ab-").to_string().contains("must not end with '-'"));
    }

    #[test]
    fn hyphens_inside_the_name_and_repeated_hyphens_are_accepted() {
        assert!(ResourceName::parse("a-b").is_ok());
        assert!(ResourceName::parse("a--b").is_ok());
    }

    #[test]
    fn a_name_may_end_with_a_digit_or_an_upper_case_letter() {
        assert!(ResourceName::parse("blue2").is_ok());
        assert!(ResourceName::parse("blueB").is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 two-byte characters: the length is fine, the first character is not.
        assert!(matches!(
            refusal(&"é".repeat(11)),
            NameError::FirstCharacter { .. }
        ));
    }

    #[test]
    fn deserializing_applies_the_rule_and_serializing_gives_the_plain_string() {
        assert!(serde_json::from_str::<ResourceName>("\"9lives\"").is_err());
        let name: ResourceName = serde_json::from_str("\"green\"").expect("green is valid");
        assert_eq!(name.as_str(), "green");
        assert_eq!(
            serde_json::to_string(&name).expect("serialize name"),
            "\"green\""
        );
    }

    #[test]
    fn names_parse_from_str() {
        let name: ResourceName = "blue".parse().expect("blue is valid");
        assert_eq!(name.as_ref(), "blue");
    }
}
