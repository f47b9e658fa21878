//! The small steps every request `check()` is made of: a problem naming its field, Azure's name
//! rule, the shared text rule, and "no problems means valid".

use crate::error::FieldError;
use crate::names::ResourceName;
use crate::text;

pub(crate) fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn check_name(name_field: &str, name: &str, problems: &mut Vec<FieldError>) {
    if let Err(e) = ResourceName::parse(name) {
        problems.push(field(name_field, e.to_string()));
    }
}

/// The shared text rule (`crate::text`), as a field problem.
pub(crate) fn check_text(
    name: &str,
    value: &str,
    rule: text::TextRule,
    problems: &mut Vec<FieldError>,
) {
    if let Err(v) = text::check_field(name, value, rule) {
        problems.push(field(&v.field, v.message));
    }
}

pub(crate) fn done(problems: Vec<FieldError>) -> Result<(), Vec<FieldError>> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
