//! Before / after of an audit event, key by key, so a reviewer sees what a change changed
//! rather than two blobs of JSON.
//!
//! Events keep the state they changed in `details.before` and the new state in
//! `details.after` (a workspace operation's result) or `details.change.after` (the split a
//! traffic change request asks for; a deletion has no after). Objects are compared key by key down to their leaves, keys named by their path
//! (`traffic.green`); anything else (a list, a number) is one value. A top-level scalar is
//! named `(value)`.

use serde_json::{Map, Value};

/// One key whose value differs; `None` where the key is absent on that side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub key: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The keys that differ between an event's before and after, in key order; `None` when the
/// event does not carry both.
pub fn diff(details: &Value) -> Option<Vec<KeyChange>> {
    let before = details.get("before").filter(|v| !v.is_null())?;
    let after = details
        .get("after")
        .or_else(|| details.get("change").and_then(|change| change.get("after")))
        .filter(|v| !v.is_null())?;
    let (mut before_leaves, mut after_leaves) = (Map::new(), Map::new());
    flatten("", before, &mut before_leaves);
    flatten("", after, &mut after_leaves);
    let mut keys: Vec<&String> = before_leaves.keys().chain(after_leaves.keys()).collect();
    keys.sort();
    keys.dedup();
    Some(
        keys.into_iter()
            .filter_map(|key| {
                let (b, a) = (before_leaves.get(key), after_leaves.get(key));
                (b != a).then(|| KeyChange {
                    key: key.clone(),
                    before: b.cloned(),
                    after: a.cloned(),
                })
            })
            .collect(),
    )
}

/// A value as the console shows it in a diff: text without quotes, anything else as JSON.
pub fn show(value: Option<&Value>) -> String {
    match value {
        None => "—".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn flatten(prefix: &str, value: &Value, into: &mut Map<String, Value>) {
    match value {
        // An empty object has no keys to compare: `{}` → `{"green": 10}` is `green` added.
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, into);
            }
        }
        leaf => {
            let key = if prefix.is_empty() { "(value)" } else { prefix };
            into.insert(key.to_owned(), leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_keys_are_listed_by_their_path() {
        let details = json!({
            "before": { "traffic": { "blue": 100, "green": 0 }, "mirror": {} },
            "after": { "traffic": { "blue": 90, "green": 10 }, "mirror": {}, "version": "v2" },
        });
        let changes = diff(&details).expect("a diff");
        let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["traffic.blue", "traffic.green", "version"]);
        assert_eq!(changes[0].before, Some(json!(100)));
        assert_eq!(changes[0].after, Some(json!(90)));
        assert_eq!(changes[2].before, None);
    }

    #[test]
    fn a_change_request_diffs_before_against_the_change_it_asks_for() {
        let details = json!({
            "before": { "traffic": { "blue": 100, "green": 0 }, "mirror_traffic": {} },
            "change": {
                "kind": "traffic",
                "after": { "traffic": { "blue": 50, "green": 50 }, "mirror_traffic": {} },
            },
        });
        let keys: Vec<String> = diff(&details)
            .expect("a diff")
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(keys, ["traffic.blue", "traffic.green"]);
        let deletion = json!({
            "before": { "traffic": { "blue": 100 } },
            "change": { "kind": "delete_deployment", "deployment": "green" },
        });
        assert_eq!(diff(&deletion), None);
    }

    #[test]
    fn an_event_without_both_sides_has_no_diff() {
        assert_eq!(diff(&json!({ "client_addr": "127.0.0.1" })), None);
        assert_eq!(diff(&json!({ "before": null, "after": { "a": 1 } })), None);
    }

    #[test]
    fn a_key_of_an_empty_object_is_added_not_changed() {
        let details =
            json!({ "before": { "traffic": {} }, "after": { "traffic": { "blue": 100 } } });
        let changes = diff(&details).expect("a diff");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].key, "traffic.blue");
        assert_eq!(changes[0].before, None);
    }

    #[test]
    fn scalars_and_lists_compare_whole() {
        let details = json!({ "before": [1, 2], "after": [1, 3] });
        let changes = diff(&details).expect("a diff");
        assert_eq!(changes[0].key, "(value)");
        assert_eq!(show(changes[0].after.as_ref()), "[1,3]");
        assert_eq!(show(Some(&json!("text"))), "text");
        assert_eq!(show(None), "—");
    }
}
