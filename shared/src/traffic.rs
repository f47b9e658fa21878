//! Azure ML's rules for an endpoint's live `traffic` and `mirrorTraffic`, written once so the
//! console, the server and the local workspace accept and refuse exactly the same splits.
//!
//! Shares are percentages keyed by deployment name, as in the ARM body of an online endpoint.
//! Every broken rule is reported (not only the first) with the ARM JSON path of the field, so a
//! form can mark each bad input and the local workspace can answer like Azure does.

use crate::error::FieldError;
use crate::limits::MAX_MIRROR_PERCENT;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The sum live shares must reach unless they are all zero.
pub const TRAFFIC_TOTAL_PERCENT: i64 = 100;

const TRAFFIC_FIELD: &str = "properties.traffic";
const MIRROR_FIELD: &str = "properties.mirrorTraffic";

/// One broken rule: which ARM field (e.g. `properties.traffic.green`) and why, in words that
/// name the rule and the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleViolation {
    pub field: String,
    pub message: String,
}

impl RuleViolation {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RuleViolation {}

/// The console's own API reports broken rules as `FieldError`s; same shape, same meaning.
impl From<RuleViolation> for FieldError {
    fn from(v: RuleViolation) -> Self {
        FieldError {
            field: v.field,
            message: v.message,
        }
    }
}

/// Checks a proposed live `traffic` and `mirrorTraffic` split for an endpoint whose deployments
/// are `deployments`.
///
/// Live traffic: each share 0–100, only existing deployments, and the shares add up to 100 — or
/// are all zero (or the map is empty), which is how an endpoint without live traffic looks.
/// Mirror traffic: each share 0–50, only existing deployments, at most one deployment with a
/// positive share, and never a deployment that also takes live traffic (Azure mirrors a copy of
/// live requests to a deployment *beside* the live ones).
///
/// Returns every violation, in a stable order (live before mirror, then by deployment name).
pub fn check_traffic(
    traffic: &BTreeMap<String, i64>,
    mirror: &BTreeMap<String, i64>,
    deployments: &[&str],
) -> Result<(), Vec<RuleViolation>> {
    let mut violations = Vec::new();
    let exists = |name: &str| deployments.contains(&name);

    for (name, &share) in traffic {
        let field = format!("{TRAFFIC_FIELD}.{name}");
        if !exists(name) {
            violations.push(RuleViolation::new(
                &field,
                format!("traffic may go only to deployments of this endpoint (got {name:?})"),
            ));
        }
        if !(0..=TRAFFIC_TOTAL_PERCENT).contains(&share) {
            violations.push(RuleViolation::new(
                &field,
                format!(
                    "traffic share must be between 0 and {TRAFFIC_TOTAL_PERCENT} (got {share})"
                ),
            ));
        }
    }
    // i128: no sum of i64 shares can overflow it, whatever a client sends.
    let total: i128 = traffic.values().map(|&v| i128::from(v)).sum();
    let all_zero = traffic.values().all(|&v| v == 0);
    if !all_zero && total != i128::from(TRAFFIC_TOTAL_PERCENT) {
        violations.push(RuleViolation::new(
            TRAFFIC_FIELD,
            format!("traffic must add up to {TRAFFIC_TOTAL_PERCENT} (got {total})"),
        ));
    }

    for (name, &share) in mirror {
        let field = format!("{MIRROR_FIELD}.{name}");
        if !exists(name) {
            violations.push(RuleViolation::new(
                &field,
                format!(
                    "mirror traffic may go only to deployments of this endpoint (got {name:?})"
                ),
            ));
        }
        if !(0..=MAX_MIRROR_PERCENT).contains(&share) {
            violations.push(RuleViolation::new(
                &field,
                format!(
                    "mirror traffic share must be between 0 and {MAX_MIRROR_PERCENT} (got {share})"
                ),
            ));
        }
        let live = traffic.get(name).copied().unwrap_or(0);
        if share > 0 && live > 0 {
            violations.push(RuleViolation::new(
                &field,
                format!(
                    "a deployment can't take both live and mirror traffic \
                     ({name:?} has {live}% live and {share}% mirror)"
                ),
            ));
        }
    }
    let mirrored: Vec<&str> = mirror
        .iter()
        .filter(|(_, &share)| share > 0)
        .map(|(name, _)| name.as_str())
        .collect();
    if mirrored.len() > 1 {
        violations.push(RuleViolation::new(
            MIRROR_FIELD,
            format!(
                "mirror traffic may go to at most one deployment (got {}: {})",
                mirrored.len(),
                mirrored.join(", ")
            ),
        ));
    }

    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// Checks that deployment `name` may be deleted: Azure refuses while any live or mirror traffic
/// still goes to it, so a rollout must move the traffic away first.
pub fn check_deployment_delete(
    name: &str,
    traffic: &BTreeMap<String, i64>,
    mirror: &BTreeMap<String, i64>,
) -> Result<(), RuleViolation> {
    if let Some(&share) = traffic.get(name).filter(|&&share| share > 0) {
        return Err(RuleViolation::new(
            format!("{TRAFFIC_FIELD}.{name}"),
            format!(
                "a deployment with live traffic can't be deleted \
                 ({name:?} has {share}%; set it to 0 first)"
            ),
        ));
    }
    if let Some(&share) = mirror.get(name).filter(|&&share| share > 0) {
        return Err(RuleViolation::new(
            format!("{MIRROR_FIELD}.{name}"),
            format!(
                "a deployment with mirror traffic can't be deleted \
                 ({name:?} has {share}%; set it to 0 first)"
            ),
        ));
    }
    Ok(())
}

/// A split as it takes effect: zero shares left out (Azure may list `"blue": 0` or omit it) and
/// names lower-cased (Azure compares deployment names without case). Equal effective splits are
/// the same split.
pub fn effective_split(split: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    split
        .iter()
        .filter(|(_, share)| **share != 0)
        .map(|(name, share)| (name.to_ascii_lowercase(), *share))
        .collect()
}

/// A short tag that changes whenever an endpoint's effective split changes: the version a
/// caller sends back with a traffic change, so a change made against a split someone else has
/// since replaced is refused instead of silently overwriting it.
///
/// Zero shares are left out and names lower-cased (Azure may list `"blue": 0` or omit it, and
/// compares deployment names without case), so equal splits always get equal versions. FNV-1a:
/// stable across builds and platforms, including the browser's wasm; not a security measure.
pub fn traffic_version(traffic: &BTreeMap<String, i64>, mirror: &BTreeMap<String, i64>) -> String {
    let mut canonical = String::new();
    for (label, split) in [("live", traffic), ("mirror", mirror)] {
        canonical.push_str(label);
        for (name, share) in effective_split(split) {
            canonical.push_str(&format!("|{name}={share}"));
        }
        canonical.push(';');
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENTS: &[&str] = &["blue", "green"];

    fn shares(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
    }

    fn none() -> BTreeMap<String, i64> {
        BTreeMap::new()
    }

    fn check(live: &[(&str, i64)], mirror: &[(&str, i64)]) -> Result<(), Vec<RuleViolation>> {
        check_traffic(&shares(live), &shares(mirror), DEPLOYMENTS)
    }

    fn violations(live: &[(&str, i64)], mirror: &[(&str, i64)]) -> Vec<RuleViolation> {
        check(live, mirror).expect_err("the split should be refused")
    }

    fn only_violation(live: &[(&str, i64)], mirror: &[(&str, i64)]) -> RuleViolation {
        let mut all = violations(live, mirror);
        assert_eq!(all.len(), 1, "expected exactly one violation: {all:?}");
        all.remove(0)
    }

    // Accepted splits.

    #[test]
    fn an_endpoint_without_traffic_is_accepted() {
        assert_eq!(check(&[], &[]), Ok(()));
    }

    #[test]
    fn all_zero_shares_are_accepted() {
        assert_eq!(check(&[("blue", 0), ("green", 0)], &[]), Ok(()));
    }

    #[test]
    fn all_traffic_to_one_deployment_is_accepted() {
        assert_eq!(check(&[("blue", 100)], &[]), Ok(()));
        assert_eq!(check(&[("blue", 100), ("green", 0)], &[]), Ok(()));
    }

    #[test]
    fn ninety_ten_with_a_zero_mirror_is_accepted() {
        assert_eq!(
            check(&[("blue", 90), ("green", 10)], &[("green", 0)]),
            Ok(())
        );
    }

    #[test]
    fn mirroring_fifty_percent_to_a_deployment_without_live_traffic_is_accepted() {
        assert_eq!(
            check(&[("blue", 100), ("green", 0)], &[("green", 50)]),
            Ok(())
        );
        assert_eq!(check(&[("blue", 100)], &[("green", 50)]), Ok(()));
    }

    #[test]
    fn zero_mirror_shares_for_several_deployments_are_accepted() {
        assert_eq!(
            check(&[("blue", 100)], &[("blue", 0), ("green", 0)]),
            Ok(())
        );
    }

    #[test]
    fn a_zero_mirror_share_beside_live_traffic_is_accepted() {
        assert_eq!(check(&[("blue", 100)], &[("blue", 0)]), Ok(()));
    }

    // Live traffic refused.

    #[test]
    fn live_shares_that_do_not_add_up_to_100_are_refused() {
        let v = only_violation(&[("blue", 80), ("green", 10)], &[]);
        assert_eq!(v.field, "properties.traffic");
        assert_eq!(v.message, "traffic must add up to 100 (got 90)");
    }

    #[test]
    fn live_shares_above_100_in_total_are_refused() {
        let v = only_violation(&[("blue", 100), ("green", 10)], &[]);
        assert_eq!(v.message, "traffic must add up to 100 (got 110)");
    }

    #[test]
    fn a_live_share_above_100_is_refused() {
        let all = violations(&[("blue", 101)], &[]);
        assert_eq!(all[0].field, "properties.traffic.blue");
        assert_eq!(
            all[0].message,
            "traffic share must be between 0 and 100 (got 101)"
        );
        assert!(all
            .iter()
            .any(|v| v.message.contains("add up to 100 (got 101)")));
    }

    #[test]
    fn out_of_range_shares_are_refused_even_when_the_sum_is_100() {
        let all = violations(&[("blue", 110), ("green", -10)], &[]);
        let fields: Vec<&str> = all.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["properties.traffic.blue", "properties.traffic.green"]
        );
        assert!(all[1].message.contains("(got -10)"));
    }

    #[test]
    fn negative_shares_that_sum_to_zero_are_not_all_zero() {
        let all = violations(&[("blue", 10), ("green", -10)], &[]);
        assert!(all.iter().any(|v| v.field == "properties.traffic.green"
            && v.message.contains("between 0 and 100 (got -10)")));
        assert!(all
            .iter()
            .any(|v| v.message == "traffic must add up to 100 (got 0)"));
    }

    #[test]
    fn live_traffic_to_an_unknown_deployment_is_refused() {
        let v = only_violation(&[("blue", 50), ("red", 50)], &[]);
        assert_eq!(v.field, "properties.traffic.red");
        assert!(v.message.contains("only to deployments of this endpoint"));
        assert!(v.message.contains("\"red\""));
    }

    #[test]
    fn a_zero_share_to_an_unknown_deployment_is_refused_too() {
        let v = only_violation(&[("blue", 100), ("red", 0)], &[]);
        assert_eq!(v.field, "properties.traffic.red");
    }

    #[test]
    fn extreme_shares_do_not_overflow_the_sum() {
        let all = violations(&[("blue", i64::MAX), ("green", i64::MAX)], &[]);
        assert!(all.iter().any(|v| v.message.contains("add up to 100")));
    }

    // Mirror traffic refused.

    #[test]
    fn a_mirror_share_above_50_is_refused() {
        let v = only_violation(&[("blue", 100)], &[("green", 51)]);
        assert_eq!(v.field, "properties.mirrorTraffic.green");
        assert_eq!(
            v.message,
            "mirror traffic share must be between 0 and 50 (got 51)"
        );
    }

    #[test]
    fn a_negative_mirror_share_is_refused() {
        let v = only_violation(&[("blue", 100)], &[("green", -1)]);
        assert!(v.message.contains("between 0 and 50 (got -1)"));
    }

    #[test]
    fn mirror_traffic_to_an_unknown_deployment_is_refused() {
        let v = only_violation(&[("blue", 100)], &[("red", 10)]);
        assert_eq!(v.field, "properties.mirrorTraffic.red");
        assert!(v.message.contains("only to deployments of this endpoint"));
    }

    #[test]
    fn mirroring_to_two_deployments_is_refused() {
        let deployments = ["blue", "green", "red"];
        let all = check_traffic(
            &shares(&[("blue", 100)]),
            &shares(&[("green", 10), ("red", 20)]),
            &deployments,
        )
        .expect_err("two mirrors");
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].field, "properties.mirrorTraffic");
        assert_eq!(
            all[0].message,
            "mirror traffic may go to at most one deployment (got 2: green, red)"
        );
    }

    #[test]
    fn mirroring_to_a_deployment_with_live_traffic_is_refused() {
        let v = only_violation(&[("blue", 90), ("green", 10)], &[("green", 20)]);
        assert_eq!(v.field, "properties.mirrorTraffic.green");
        assert!(v
            .message
            .contains("can't take both live and mirror traffic"));
        assert!(v.message.contains("10% live and 20% mirror"));
    }

    #[test]
    fn every_broken_rule_is_reported_in_a_stable_order() {
        let all = violations(&[("blue", 50), ("red", 30)], &[("blue", 60), ("green", 5)]);
        let fields: Vec<&str> = all.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "properties.traffic.red",
                "properties.traffic",
                "properties.mirrorTraffic.blue",
                "properties.mirrorTraffic.blue",
                "properties.mirrorTraffic",
            ]
        );
    }

    #[test]
    fn an_endpoint_without_deployments_accepts_only_an_empty_split() {
        assert_eq!(check_traffic(&none(), &none(), &[]), Ok(()));
        assert!(check_traffic(&shares(&[("blue", 100)]), &none(), &[]).is_err());
    }

    // Deleting deployments.

    #[test]
    fn a_deployment_without_traffic_can_be_deleted() {
        let live = shares(&[("blue", 100), ("green", 0)]);
        assert_eq!(
            check_deployment_delete("green", &live, &shares(&[("green", 0)])),
            Ok(())
        );
        assert_eq!(check_deployment_delete("green", &none(), &none()), Ok(()));
    }

    #[test]
    fn a_deployment_with_live_traffic_cannot_be_deleted() {
        let live = shares(&[("blue", 90), ("green", 10)]);
        let v = check_deployment_delete("blue", &live, &none()).expect_err("blue is live");
        assert_eq!(v.field, "properties.traffic.blue");
        assert!(v.message.contains("live traffic can't be deleted"));
        assert!(v.message.contains("90%"));
    }

    #[test]
    fn a_deployment_with_mirror_traffic_cannot_be_deleted() {
        let live = shares(&[("blue", 100)]);
        let v = check_deployment_delete("green", &live, &shares(&[("green", 20)]))
            .expect_err("green is mirrored");
        assert_eq!(v.field, "properties.mirrorTraffic.green");
        assert!(v.message.contains("mirror traffic can't be deleted"));
        assert!(v.message.contains("20%"));
    }

    #[test]
    fn a_violation_becomes_a_field_error_of_the_console_api() {
        let v = RuleViolation::new("properties.traffic", "traffic must add up to 100 (got 90)");
        assert_eq!(
            v.to_string(),
            "properties.traffic: traffic must add up to 100 (got 90)"
        );
        let f = FieldError::from(v);
        assert_eq!(f.field, "properties.traffic");
    }

    #[test]
    fn the_traffic_version_ignores_zero_shares_and_case_but_not_changes() {
        let split = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
        };
        let base = traffic_version(&split(&[("blue", 100)]), &split(&[]));
        assert_eq!(
            base,
            traffic_version(
                &split(&[("Blue", 100), ("green", 0)]),
                &split(&[("green", 0)])
            )
        );
        assert_ne!(
            base,
            traffic_version(&split(&[("blue", 90), ("green", 10)]), &split(&[]))
        );
        assert_ne!(
            base,
            traffic_version(&split(&[("blue", 100)]), &split(&[("green", 10)]))
        );
        // A live share and the same mirror share are different splits.
        assert_ne!(
            traffic_version(&split(&[("green", 10)]), &split(&[])),
            traffic_version(&split(&[]), &split(&[("green", 10)]))
        );
    }
}
