//! What the feed knows of rollouts: every `event: rollout` the stream delivered since the page
//! loaded. The server sends one per rollout *and* per step transition, and a step's start or end
//! may leave the summary unchanged (same state, same current step), so each rollout also keeps a
//! count of the events seen: pages reload on that count, never missing a step's move.

use super::Feed;
use leptos::prelude::*;
use shared::api::rollouts::RolloutSummary;
use shared::rollout::RolloutState;
use uuid::Uuid;

/// A rollout's latest summary and how many events about it arrived.
#[derive(Debug, Clone)]
pub struct SeenRollout {
    pub summary: RolloutSummary,
    pub events: u64,
}

impl Feed {
    /// How many events about rollout `id` arrived (tracked): changes with every transition.
    pub fn rollout_events(&self, id: Uuid) -> u64 {
        self.rollouts.with(|r| r.get(&id).map_or(0, |s| s.events))
    }

    /// What has moved among `endpoint`'s rollouts: id, state and event count of each (tracked).
    /// The endpoint page reloads its history and banner on it.
    pub fn rollout_activity(&self, endpoint: &str) -> Vec<(Uuid, RolloutState, u64)> {
        let mut found: Vec<_> = self.rollouts.with(|r| {
            r.values()
                .filter(|s| s.summary.endpoint.as_str() == endpoint)
                .map(|s| (s.summary.id, s.summary.state, s.events))
                .collect()
        });
        found.sort_unstable_by_key(|(id, ..)| *id);
        found
    }

    /// An event from the stream: events arrive in the order the server wrote them, so the
    /// newest always wins.
    pub(super) fn apply_rollout(&self, summary: RolloutSummary) {
        self.rollouts.update(|r| {
            let seen = r.entry(summary.id).or_insert_with(|| SeenRollout {
                summary: summary.clone(),
                events: 0,
            });
            seen.summary = summary;
            seen.events += 1;
        });
    }
}
