//! PATCH as ARM does it: an RFC 7386 JSON merge patch applied to the stored resource, the result
//! then going through the same PUT path (and rules) as a whole new body.

use crate::emulator::arm::error::ArmFailure;
use serde_json::Value;

/// `current` with a PATCH body merged in, read back as the resource type (`what` names it in
/// the refusal when the result no longer fits).
pub(super) fn apply_patch<T>(current: &T, patch: &Value, what: &str) -> Result<T, ArmFailure>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut merged = serde_json::to_value(current).map_err(|e| ArmFailure::internal(&e.into()))?;
    merge_json(&mut merged, patch);
    serde_json::from_value(merged).map_err(|e| {
        ArmFailure::invalid_field("body", format!("the patch does not fit {what}: {e}"))
    })
}

/// RFC 7386 JSON merge patch.
fn merge_json(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    target.remove(k);
                } else {
                    merge_json(target.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn merge_patch_replaces_leaves_and_removes_nulls() {
        let mut doc = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        merge_json(
            &mut doc,
            &serde_json::json!({"b": {"c": 5, "d": null}, "e": null, "f": 6}),
        );
        assert_eq!(doc, serde_json::json!({"a": 1, "b": {"c": 5}, "f": 6}));
    }
}
