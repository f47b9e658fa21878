//! The rule for local account names, kept in one place for the CLI, the API and the sign-in form.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A valid local account name: 2–64 characters, lowercase ASCII letters, digits, `.`, `_` or `-`,
/// starting with a letter. Lowercase only, so `Alice` and `alice` can never be two accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

pub const USERNAME_MIN_LEN: usize = 2;
pub const USERNAME_MAX_LEN: usize = 64;

/// Why a text is not a valid username; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUsername(pub &'static str);

impl fmt::Display for InvalidUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidUsername {}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        let len = raw.chars().count();
        if !(USERNAME_MIN_LEN..=USERNAME_MAX_LEN).contains(&len) {
            return Err(InvalidUsername("username must be 2 to 64 characters long"));
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(InvalidUsername(
                "username must start with a lowercase letter",
            ));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        if !raw.chars().all(allowed) {
            return Err(InvalidUsername(
                "username may contain only lowercase letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = InvalidUsername;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_accepted() {
        for name in ["al", "alice", "bob", "ops.team-1", "a_b"] {
            assert_eq!(
                Username::parse(name).map(|u| u.to_string()),
                Ok(name.into())
            );
        }
    }

    #[test]
    fn names_outside_the_length_bounds_are_refused() {
        assert!(Username::parse("a").is_err());
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        let err = Username::parse(&"a".repeat(65)).expect_err("65 chars is too long");
        assert!(err.to_string().contains("2 to 64"));
    }

    #[test]
    fn names_must_start_with_a_lowercase_letter() {
        assert!(Username::parse("1alice").is_err());
        assert!(Username::parse("Alice").is_err());
        assert!(Username::parse("-x").is_err());
    }

    #[test]
    fn names_with_other_characters_are_refused() {
        for name in ["al ice", "alice@example", "ålice2", "bob!", "aLice"] {
            assert!(Username::parse(name).is_err(), "{name} should be refused");
        }
    }

    #[test]
    fn deserializing_applies_the_rule() {
        assert!(serde_json::from_str::<Username>("\"Bad Name\"").is_err());
        let ok: Username = serde_json::from_str("\"bob\"").expect("bob is valid");
        assert_eq!(ok.as_str(), "bob");
    }
}
