//! An endpoint's live and mirror split as one value, the dry-run diff a change request shows, and
//! the two rules that compare splits: staleness and "back to known-good needs no approval".
//!
//! Splits are compared as they take effect ([`crate::traffic::effective_split`]: zero shares left
//! out, names without case), the same comparison the ARM client makes before it writes, so a
//! request is never called stale because Azure listed `"blue": 0` where the request had nothing.

use super::change_request::Change;
use crate::api::{Split, TrafficState};
use crate::traffic::{effective_split, traffic_version};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An endpoint's live `traffic` and `mirror_traffic` (`mirrorTraffic` on the wire to Azure).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrafficSplit {
    pub traffic: Split,
    #[serde(default)]
    pub mirror_traffic: Split,
}

impl TrafficSplit {
    /// `deployment` takes all live traffic; nothing is mirrored.
    pub fn all_to(deployment: &str) -> Self {
        Self {
            traffic: [(deployment.to_owned(), 100)].into(),
            mirror_traffic: Split::new(),
        }
    }

    /// Live traffic `100 - percent` to `old`, `percent` to `new`; mirroring off (Azure refuses a
    /// deployment that is both live and mirrored, so a live shift always ends the mirror).
    pub fn shifted(old: &str, new: &str, percent: i64) -> Self {
        Self {
            traffic: [(old.to_owned(), 100 - percent), (new.to_owned(), percent)].into(),
            mirror_traffic: Split::new(),
        }
    }

    /// This split with `percent` of live traffic also copied to `deployment`.
    pub fn mirrored_to(mut self, deployment: &str, percent: i64) -> Self {
        self.mirror_traffic = [(deployment.to_owned(), percent)].into();
        self
    }

    /// This split with mirroring off: every mirror share sent as an explicit 0, as Azure's own
    /// guide turns mirroring off (`mirror_traffic = {"green": 0}`).
    pub fn without_mirror(mut self) -> Self {
        self.mirror_traffic
            .values_mut()
            .for_each(|share| *share = 0);
        self
    }

    /// What to send to return an endpoint whose split is `live` to `known_good`: the known-good
    /// shares, and an explicit 0 for every deployment `live` names that `known_good` does not (a
    /// green that took traffic, a mirror), so the body says what is switched off. Takes the
    /// same effect as `known_good`, so it needs no approval ([`needs_approval`]).
    pub fn restoring(known_good: &Self, live: &Self) -> Self {
        let zero_missing = |good: &Split, now: &Split| -> Split {
            let mut out = good.clone();
            for name in now.keys() {
                if !good.keys().any(|g| g.eq_ignore_ascii_case(name)) {
                    out.insert(name.clone(), 0);
                }
            }
            out
        };
        Self {
            traffic: zero_missing(&known_good.traffic, &live.traffic),
            mirror_traffic: zero_missing(&known_good.mirror_traffic, &live.mirror_traffic),
        }
    }

    /// The same split as it takes effect (zero shares dropped, names lower-cased).
    pub fn effective(&self) -> Self {
        Self {
            traffic: effective_split(&self.traffic),
            mirror_traffic: effective_split(&self.mirror_traffic),
        }
    }

    /// True when both splits route requests the same way.
    pub fn same_effect(&self, other: &Self) -> bool {
        self.effective() == other.effective()
    }

    /// The version the traffic API shows for this split.
    pub fn version(&self) -> String {
        traffic_version(&self.traffic, &self.mirror_traffic)
    }
}

impl From<TrafficState> for TrafficSplit {
    fn from(state: TrafficState) -> Self {
        Self {
            traffic: state.traffic,
            mirror_traffic: state.mirror_traffic,
        }
    }
}

/// One deployment's shares before and after a change, for display ("green 10 % → 100 %").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentChange {
    pub deployment: String,
    pub live_before: i64,
    pub live_after: i64,
    pub mirror_before: i64,
    pub mirror_after: i64,
}

impl DeploymentChange {
    pub fn changed(&self) -> bool {
        self.live_before != self.live_after || self.mirror_before != self.mirror_after
    }
}

/// The dry run of a traffic change: `send` is exactly the `traffic` and `mirrorTraffic` maps the
/// ARM client will PUT (it always sends both; see DESIGN "Rules that come from Azure"), `before`
/// is what the workspace held when the request was made, and `changes` lists every deployment
/// either side names, by name, so a person sees what moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrafficDiff {
    pub before: TrafficSplit,
    pub send: TrafficSplit,
    pub changes: Vec<DeploymentChange>,
}

impl TrafficDiff {
    /// The diff from `before` to `after`; `after` is sent unchanged.
    pub fn between(before: &TrafficSplit, after: &TrafficSplit) -> Self {
        // Keyed without case, as Azure names deployments; shown as `after` spells the name.
        let mut rows: BTreeMap<String, DeploymentChange> = BTreeMap::new();
        fn row<'a>(
            rows: &'a mut BTreeMap<String, DeploymentChange>,
            name: &str,
        ) -> &'a mut DeploymentChange {
            rows.entry(name.to_ascii_lowercase())
                .or_insert_with(|| DeploymentChange {
                    deployment: name.to_owned(),
                    live_before: 0,
                    live_after: 0,
                    mirror_before: 0,
                    mirror_after: 0,
                })
        }
        for (name, &share) in &before.traffic {
            row(&mut rows, name).live_before = share;
        }
        for (name, &share) in &before.mirror_traffic {
            row(&mut rows, name).mirror_before = share;
        }
        for (name, &share) in &after.traffic {
            let r = row(&mut rows, name);
            r.deployment = name.clone();
            r.live_after = share;
        }
        for (name, &share) in &after.mirror_traffic {
            let r = row(&mut rows, name);
            r.deployment = name.clone();
            r.mirror_after = share;
        }
        Self {
            before: before.clone(),
            send: after.clone(),
            changes: rows.into_values().collect(),
        }
    }

    /// True when the change moves no request (the maps may still differ in zero shares).
    pub fn is_noop(&self) -> bool {
        self.before.same_effect(&self.send)
    }
}

/// A request is stale when the endpoint's live split is no longer the `before` it was made
/// against: applying it would overwrite a change its approvers never saw (the "stale draft
/// silently overwrote another user's mirror change" of issue 11). Compares live and mirror.
pub fn is_stale(before: &TrafficSplit, live: &TrafficSplit) -> bool {
    !before.same_effect(live)
}

/// Whether `change` needs approvals. Going back to the known-good split — the one the endpoint
/// had before a rollout started (`known_good`) — never does: returning to a state the team
/// already ran is the safe direction, and waiting for an approver while a bad model serves
/// traffic is the harm approvals are meant to prevent. Every other change does, deletions always
/// (they can't be undone).
pub fn needs_approval(change: &Change, known_good: Option<&TrafficSplit>) -> bool {
    match (change, known_good) {
        (Change::Traffic { after }, Some(good)) => !after.same_effect(good),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(live: &[(&str, i64)], mirror: &[(&str, i64)]) -> TrafficSplit {
        let map = |pairs: &[(&str, i64)]| pairs.iter().map(|&(n, s)| (n.to_owned(), s)).collect();
        TrafficSplit {
            traffic: map(live),
            mirror_traffic: map(mirror),
        }
    }

    #[test]
    fn the_dry_run_sends_exactly_the_requested_maps_and_lists_each_deployment() {
        let before = split(&[("blue", 100)], &[("green", 10)]);
        let after = TrafficSplit::shifted("blue", "green", 10);
        let diff = TrafficDiff::between(&before, &after);
        assert_eq!(diff.send, after);
        assert_eq!(diff.before, before);
        assert_eq!(
            diff.changes,
            [
                DeploymentChange {
                    deployment: "blue".into(),
                    live_before: 100,
                    live_after: 90,
                    mirror_before: 0,
                    mirror_after: 0,
                },
                DeploymentChange {
                    deployment: "green".into(),
                    live_before: 0,
                    live_after: 10,
                    mirror_before: 10,
                    mirror_after: 0,
                },
            ]
        );
        assert!(diff.changes.iter().all(DeploymentChange::changed));
        assert!(!diff.is_noop());
    }

    #[test]
    fn the_dry_run_matches_deployment_names_without_case() {
        let diff =
            TrafficDiff::between(&split(&[("Blue", 100)], &[]), &split(&[("blue", 100)], &[]));
        assert_eq!(diff.changes.len(), 1);
        assert_eq!(diff.changes[0].deployment, "blue");
        assert!(!diff.changes[0].changed());
        assert!(diff.is_noop());
    }

    #[test]
    fn a_request_is_stale_when_live_or_mirror_traffic_changed() {
        let before = split(&[("blue", 100)], &[]);
        assert!(!is_stale(
            &before,
            &split(&[("blue", 100), ("green", 0)], &[("green", 0)])
        ));
        assert!(!is_stale(&before, &split(&[("BLUE", 100)], &[])));
        assert!(is_stale(
            &before,
            &split(&[("blue", 100)], &[("green", 20)])
        ));
        assert!(is_stale(
            &before,
            &split(&[("blue", 90), ("green", 10)], &[])
        ));
    }

    #[test]
    fn returning_to_the_known_good_split_needs_no_approval() {
        let good = TrafficSplit::all_to("blue");
        let back = Change::Traffic {
            after: split(&[("blue", 100), ("green", 0)], &[("green", 0)]),
        };
        assert!(!needs_approval(&back, Some(&good)));
        let forward = Change::Traffic {
            after: TrafficSplit::shifted("blue", "green", 10),
        };
        assert!(needs_approval(&forward, Some(&good)));
        assert!(
            needs_approval(&back, None),
            "no rollout, no known-good split"
        );
        let delete = Change::DeleteDeployment {
            deployment: crate::names::DeploymentName::parse("green").expect("valid"),
        };
        assert!(needs_approval(&delete, Some(&good)));
        assert!(needs_approval(&Change::DeleteEndpoint, Some(&good)));
    }

    #[test]
    fn a_restore_sends_the_known_good_split_and_zeroes_the_rest() {
        let good = TrafficSplit::all_to("blue");
        let live = split(&[("blue", 90), ("green", 10)], &[]);
        let back = TrafficSplit::restoring(&good, &live);
        assert_eq!(back, split(&[("blue", 100), ("green", 0)], &[]));
        let mirrored = TrafficSplit::all_to("blue").mirrored_to("green", 10);
        let back = TrafficSplit::restoring(&good, &mirrored);
        assert_eq!(back, split(&[("blue", 100)], &[("green", 0)]));
        assert!(back.same_effect(&good));
        let change = Change::Traffic { after: back };
        assert!(!needs_approval(&change, Some(&good)));
    }

    #[test]
    fn split_builders_follow_azures_live_or_mirror_rule() {
        let mirrored = TrafficSplit::all_to("blue").mirrored_to("green", 10);
        assert_eq!(mirrored, split(&[("blue", 100)], &[("green", 10)]));
        assert_eq!(
            mirrored.clone().without_mirror(),
            split(&[("blue", 100)], &[("green", 0)])
        );
        assert!(mirrored
            .clone()
            .without_mirror()
            .same_effect(&TrafficSplit::all_to("blue")));
        assert_eq!(
            TrafficSplit::shifted("blue", "green", 100).version(),
            TrafficSplit::all_to("green").version()
        );
        let state = TrafficState {
            traffic: mirrored.traffic.clone(),
            mirror_traffic: mirrored.mirror_traffic.clone(),
            version: mirrored.version(),
        };
        assert_eq!(TrafficSplit::from(state), mirrored);
    }
}
