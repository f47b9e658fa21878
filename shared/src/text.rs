//! Free text people type and Greenlight stores or forwards: descriptions, tags, environment
//! variable values, and the reasons given with change requests. One rule for all of them, so the
//! console, the API and the local workspace refuse the same text with the same message.
//!
//! The rule:
//! - **NUL (U+0000) is always refused.** Postgres can't hold it in `text` or `jsonb`, and a
//!   process environment can't carry it, so text holding it would be forwarded to the workspace
//!   and then fail to be recorded in the audit log.
//! - **Other control characters are refused**: the C0 range (U+0001–U+001F), DEL (U+007F) and the
//!   C1 range (U+0080–U+009F). They are invisible in the console and in logs, where they can fake
//!   or hide lines. A multi-line field ([`TextRule::multi_line`]: descriptions, environment
//!   variable values, reasons) allows tab, line feed and carriage return; a single-line field
//!   (tag keys and values) allows tab only.
//! - **A length limit** in characters (Unicode scalar values), per field.

use crate::arm::{OnlineDeployment, OnlineEndpoint};
use crate::traffic::RuleViolation;
use std::collections::BTreeMap;
use std::fmt;

/// What one kind of text field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// The most characters it may hold.
    pub max_chars: usize,
    /// Whether line feed and carriage return are allowed (tab always is).
    pub multi_line: bool,
}

/// An endpoint's or deployment's description.
pub const DESCRIPTION: TextRule = TextRule {
    max_chars: 1024,
    multi_line: true,
};

/// A tag's key (Azure allows 512 characters).
pub const TAG_KEY: TextRule = TextRule {
    max_chars: 512,
    multi_line: false,
};

/// A tag's value (Azure allows 256 characters).
pub const TAG_VALUE: TextRule = TextRule {
    max_chars: 256,
    multi_line: false,
};

/// An environment variable's value: may span lines (a PEM certificate does); 32 768 characters
/// is well inside what Linux lets one variable hold.
pub const ENVIRONMENT_VALUE: TextRule = TextRule {
    max_chars: 32_768,
    multi_line: true,
};

/// The reason given with a change request.
pub const REASON: TextRule = TextRule {
    max_chars: 2000,
    multi_line: true,
};

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// More than `max` characters.
    TooLong { max: usize, got: usize },
    /// A control character (`character`) at 0-based character `position`.
    ControlCharacter { character: char, position: usize },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { max, got } => {
                write!(f, "must be at most {max} characters (got {got})")
            }
            Self::ControlCharacter {
                character,
                position,
            } => write!(
                f,
                "must not contain control characters (U+{:04X} at character {})",
                u32::from(*character),
                position + 1
            ),
        }
    }
}

impl std::error::Error for TextError {}

impl TextRule {
    /// Whether `c` may appear in a field under this rule.
    pub fn allows(&self, c: char) -> bool {
        match c {
            '\t' => true,
            '\n' | '\r' => self.multi_line,
            c => !c.is_control(),
        }
    }

    /// Checks `text` against this rule: the first control character, else the length.
    pub fn check(&self, text: &str) -> Result<(), TextError> {
        if let Some((position, character)) =
            text.chars().enumerate().find(|(_, c)| !self.allows(*c))
        {
            return Err(TextError::ControlCharacter {
                character,
                position,
            });
        }
        let got = text.chars().count();
        if got > self.max_chars {
            return Err(TextError::TooLong {
                max: self.max_chars,
                got,
            });
        }
        Ok(())
    }
}

/// Checks `text` under `rule`; the error names `field` (`description`,
/// `environment_variables.MODEL_MODE`...) and says what is wrong in a sentence.
pub fn check_field(field: &str, text: &str, rule: TextRule) -> Result<(), RuleViolation> {
    rule.check(text)
        .map_err(|e| RuleViolation::new(field, format!("{field} {e}")))
}

/// Checks every entry of a tag map, naming `field.<key>` (keys are checked too).
pub fn check_tags(
    field: &str,
    tags: &BTreeMap<String, String>,
    violations: &mut Vec<RuleViolation>,
) {
    for (key, value) in tags {
        let name = format!("{field}.{key}");
        violations.extend(check_field(&name, key, TAG_KEY).err());
        violations.extend(check_field(&name, value, TAG_VALUE).err());
    }
}

/// The text of an ARM endpoint body (`tags`, `properties.description`), as the local workspace
/// checks it.
pub fn check_endpoint_text(endpoint: &OnlineEndpoint) -> Result<(), Vec<RuleViolation>> {
    let mut violations = Vec::new();
    if let Some(tags) = &endpoint.tags {
        check_tags("tags", tags, &mut violations);
    }
    if let Some(description) = &endpoint.properties.description {
        violations.extend(check_field("properties.description", description, DESCRIPTION).err());
    }
    done(violations)
}

/// The text of an ARM deployment body (`tags`, `properties.description`,
/// `properties.environmentVariables`), as the local workspace checks it.
pub fn check_deployment_text(deployment: &OnlineDeployment, violations: &mut Vec<RuleViolation>) {
    if let Some(tags) = &deployment.tags {
        check_tags("tags", tags, violations);
    }
    let properties = &deployment.properties;
    if let Some(description) = &properties.description {
        violations.extend(check_field("properties.description", description, DESCRIPTION).err());
    }
    for (name, value) in properties.environment_variables.iter().flatten() {
        let field = format!("properties.environmentVariables.{name}");
        violations.extend(check_field(&field, value, ENVIRONMENT_VALUE).err());
    }
}

/// `text` with every control character a multi-line field refuses replaced by U+FFFD, for
/// recording text that came from elsewhere (a workspace's error, a database's refusal) in a
/// form that can always be stored.
pub fn scrub(text: &str) -> String {
    text.chars()
        .map(|c| if REASON.allows(c) { c } else { '\u{FFFD}' })
        .collect()
}

fn done(violations: Vec<RuleViolation>) -> Result<(), Vec<RuleViolation>> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_in_every_kind_of_field() {
        for rule in [DESCRIPTION, TAG_KEY, TAG_VALUE, ENVIRONMENT_VALUE, REASON] {
            assert_eq!(
                rule.check("ab\u{0}c"),
                Err(TextError::ControlCharacter {
                    character: '\0',
                    position: 2
                })
            );
        }
    }

    #[test]
    fn control_characters_are_refused_but_tab_is_allowed() {
        for c in ['\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert!(DESCRIPTION.check(&format!("a{c}")).is_err(), "{c:?}");
            assert!(TAG_VALUE.check(&format!("a{c}")).is_err(), "{c:?}");
        }
        assert_eq!(TAG_VALUE.check("a\tb"), Ok(()));
        assert_eq!(DESCRIPTION.check("a\tb"), Ok(()));
    }

    #[test]
    fn line_breaks_are_allowed_only_in_multi_line_fields() {
        assert_eq!(DESCRIPTION.check("one\r\ntwo"), Ok(()));
        assert_eq!(
            ENVIRONMENT_VALUE.check("-----BEGIN\nxyz\n-----END\n"),
            Ok(())
        );
        assert_eq!(REASON.check("because\nof this"), Ok(()));
        assert!(TAG_VALUE.check("one\ntwo").is_err());
        assert!(TAG_KEY.check("one\rtwo").is_err());
    }

    #[test]
    fn text_is_limited_in_characters_not_bytes() {
        assert_eq!(DESCRIPTION.check(&"é".repeat(1024)), Ok(()));
        assert_eq!(
            DESCRIPTION.check(&"é".repeat(1025)),
            Err(TextError::TooLong {
                max: 1024,
                got: 1025
            })
        );
        // Letters of any script, emoji and format characters are text, not control characters.
        assert_eq!(TAG_VALUE.check("Zürich ✓ 日本語 🚀"), Ok(()));
    }

    #[test]
    fn scrubbed_text_passes_the_rule() {
        assert_eq!(scrub("a\u{0}b\nc\u{1b}"), "a\u{FFFD}b\nc\u{FFFD}");
        assert_eq!(REASON.check(&scrub("x\u{0}\u{85}")), Ok(()));
    }

    #[test]
    fn a_refusal_names_the_field_and_the_character() {
        let err = check_field("environment_variables.MODE", "x\u{0}", ENVIRONMENT_VALUE)
            .expect_err("NUL");
        assert_eq!(err.field, "environment_variables.MODE");
        assert_eq!(
            err.message,
            "environment_variables.MODE must not contain control characters (U+0000 at character 2)"
        );
    }

    #[test]
    fn arm_bodies_are_checked_in_tags_description_and_environment_variables() {
        let endpoint: OnlineEndpoint = serde_json::from_value(serde_json::json!({
            "tags": { "team": "a\u{0}" },
            "properties": { "authMode": "Key", "description": "x\u{7}" }
        }))
        .expect("an endpoint body");
        let fields: Vec<String> = check_endpoint_text(&endpoint)
            .expect_err("refused")
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["tags.team", "properties.description"]);

        let deployment: OnlineDeployment = serde_json::from_value(serde_json::json!({
            "properties": {
                "endpointComputeType": "Managed",
                "environmentVariables": { "OK": "line\nbreak", "BAD": "\u{0}" }
            }
        }))
        .expect("a deployment body");
        let mut violations = Vec::new();
        check_deployment_text(&deployment, &mut violations);
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["properties.environmentVariables.BAD"]);
    }
}
