//! A rollout plan as data: the ordered steps that move an endpoint from its current deployment
//! ("blue") to a new one ("green"), stored with the rollout so a restarted executor carries on
//! from the step it was at, with exactly the parameters the approvers saw.
//!
//! The rules a plan must keep are in [`super::plan_check`].

use super::split::TrafficSplit;
use crate::gates::Gate;
use crate::limits::{format_iso8601_duration, parse_iso8601_duration};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// More steps than this is not a plan a person reviews; 20 leaves room for 10 → 20 → … → 100.
pub const MAX_STEPS: usize = 20;
/// The longest mirror or bake: a day. Longer, and the change requests of later steps would be
/// approved against a day-old picture; a team that wants longer runs a second rollout step.
pub const MAX_STEP_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a mirror or bake step lasts. In JSON an ISO-8601 duration (`PT5M`), the form Azure ML
/// uses for its own timeouts, so a stored plan reads the same in the database and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "PT5M"))]
pub struct StepDuration(pub Duration);

impl StepDuration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }
}

impl Serialize for StepDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_iso8601_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for StepDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_iso8601_duration(&text)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// One step. Percentages are `i64` like the traffic maps they become, so an out-of-range share
/// is reported by [`super::check_plan`] with its field instead of failing deserialization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Create green at 0 % live traffic. Its spec (model, environment, code, instances) is the
    /// rollout's `deployment`, not part of the plan, so plans can be reused across models.
    Deploy,
    /// Send the model's sample request to green directly; it must answer 200.
    SmokeTest,
    /// Copy `percent` of live requests to green for `duration`, then stop mirroring. Clients see
    /// only blue's answers, so by default no approval (`approvals: 0`); a team may ask for some.
    Mirror {
        percent: i64,
        duration: StepDuration,
        #[serde(default)]
        approvals: u32,
        /// Green's mirrored answers judged against blue's live ones over the step; a failure
        /// rolls back. None: the step only mirrors.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gate: Option<Gate>,
    },
    /// Send `percent` of live traffic to green, the rest to blue. Needs approvals.
    Shift {
        percent: i64,
        #[serde(default = "one")]
        approvals: u32,
    },
    /// Wait for `duration` with the split as it is, watching green: with a gate, green's live
    /// share is judged against blue's and a failure rolls back.
    Bake {
        duration: StepDuration,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gate: Option<Gate>,
    },
    /// Delete blue, once green takes all traffic. Needs approvals; can't be undone.
    DeleteOld {
        #[serde(default = "one")]
        approvals: u32,
    },
}

fn one() -> u32 {
    1
}

impl Step {
    /// The `kind` as serialized.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::SmokeTest => "smoke_test",
            Self::Mirror { .. } => "mirror",
            Self::Shift { .. } => "shift",
            Self::Bake { .. } => "bake",
            Self::DeleteOld { .. } => "delete_old",
        }
    }

    /// Approvals the plan asks for (0: the step does not wait).
    pub fn approvals(&self) -> u32 {
        match self {
            Self::Mirror { approvals, .. }
            | Self::Shift { approvals, .. }
            | Self::DeleteOld { approvals } => *approvals,
            _ => 0,
        }
    }

    /// Approvals the step's change request needs: never fewer than the endpoint's policy when
    /// the step waits at all, so editing a plan can't lower what the admins set.
    pub fn required_approvals(&self, policy: u32) -> u32 {
        match self.approvals() {
            0 => 0,
            asked => asked.max(policy),
        }
    }

    pub fn duration(&self) -> Option<Duration> {
        match self {
            Self::Mirror { duration, .. } | Self::Bake { duration, .. } => Some(duration.0),
            _ => None,
        }
    }

    /// The step's gate, if it has one.
    pub fn gate(&self) -> Option<&Gate> {
        match self {
            Self::Mirror { gate, .. } | Self::Bake { gate, .. } => gate.as_ref(),
            _ => None,
        }
    }

    /// The split this step sets on an endpoint moving from `old` to `new`, for a step that
    /// changes traffic: what the executor compares with the workspace before it writes (so a
    /// step resumed after a crash writes nothing twice). A mirror step's split lasts while it
    /// runs; at its end the executor sends [`TrafficSplit::without_mirror`].
    pub fn target_split(&self, old: &str, new: &str) -> Option<TrafficSplit> {
        match self {
            Self::Mirror { percent, .. } => {
                Some(TrafficSplit::all_to(old).mirrored_to(new, *percent))
            }
            Self::Shift { percent, .. } => Some(TrafficSplit::shifted(old, new, *percent)),
            _ => None,
        }
    }
}

/// A rollout's steps, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// The seed's flow (Azure ML's "safe rollout" guide): deploy green at 0 %, smoke-test it,
    /// mirror 10 % for 5 minutes, shift 10 % (approval), bake 10 minutes, shift 100 %
    /// (approval), delete blue (approval). The mirror and the bake carry the default gate.
    pub fn seed_default() -> Self {
        Self {
            steps: vec![
                Step::Deploy,
                Step::SmokeTest,
                Step::Mirror {
                    percent: 10,
                    duration: StepDuration::from_secs(5 * 60),
                    approvals: 0,
                    gate: Some(Gate::default()),
                },
                Step::Shift {
                    percent: 10,
                    approvals: 1,
                },
                Step::Bake {
                    duration: StepDuration::from_secs(10 * 60),
                    gate: Some(Gate::default()),
                },
                Step::Shift {
                    percent: 100,
                    approvals: 1,
                },
                Step::DeleteOld { approvals: 1 },
            ],
        }
    }
}

impl Default for Plan {
    fn default() -> Self {
        Self::seed_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::check_plan;

    fn seed() -> Vec<Step> {
        Plan::seed_default().steps
    }

    fn shift(percent: i64) -> Step {
        Step::Shift {
            percent,
            approvals: 1,
        }
    }

    fn mirror(percent: i64) -> Step {
        Step::Mirror {
            percent,
            duration: StepDuration::from_secs(60),
            approvals: 0,
            gate: None,
        }
    }

    #[test]
    fn the_seed_plan_passes_and_has_the_seeds_seven_steps() {
        assert_eq!(check_plan(&Plan::seed_default()), Ok(()));
        let kinds: Vec<&str> = seed().iter().map(Step::kind).collect();
        assert_eq!(
            kinds,
            [
                "deploy",
                "smoke_test",
                "mirror",
                "shift",
                "bake",
                "shift",
                "delete_old"
            ]
        );
        let gated: Vec<u32> = seed().iter().map(Step::approvals).collect();
        assert_eq!(gated, [0, 0, 0, 1, 0, 1, 1]);
    }

    #[test]
    fn plans_serialize_with_a_kind_per_step_and_iso_durations() {
        let json = serde_json::to_value(Plan::seed_default()).expect("serialize");
        let mut mirror = json["steps"][2].clone();
        assert_eq!(mirror["gate"]["rules"][0]["metric"], "error_rate");
        if let Some(fields) = mirror.as_object_mut() {
            fields.remove("gate");
        }
        assert_eq!(
            mirror,
            serde_json::json!({"kind": "mirror", "percent": 10, "duration": "PT5M", "approvals": 0})
        );
        let gated: Step = serde_json::from_value(serde_json::json!(
            {"kind": "bake", "duration": "PT1M", "gate": {}}
        ))
        .expect("an empty gate is the default gate");
        assert_eq!(gated.gate(), Some(&Gate::default()));
        assert_eq!(json["steps"][0], serde_json::json!({"kind": "deploy"}));
        let back: Plan = serde_json::from_value(json).expect("parse");
        assert_eq!(back, Plan::seed_default());
        let short: Step =
            serde_json::from_value(serde_json::json!({"kind": "shift", "percent": 50}))
                .expect("approvals default to 1");
        assert_eq!(short, shift(50));
        assert!(serde_json::from_value::<Step>(
            serde_json::json!({"kind": "bake", "duration": "5 minutes"})
        )
        .is_err());
        assert!(serde_json::from_value::<Step>(
            serde_json::json!({"kind": "bake", "duration": "PT1M", "percent": 3})
        )
        .is_err());
    }

    #[test]
    fn a_step_never_asks_for_fewer_approvals_than_the_endpoint_policy() {
        assert_eq!(shift(10).required_approvals(3), 3);
        let two = Step::DeleteOld { approvals: 2 };
        assert_eq!(two.required_approvals(1), 2);
        assert_eq!(
            mirror(10).required_approvals(3),
            0,
            "an ungated mirror stays ungated"
        );
        assert_eq!(
            Step::Bake {
                duration: StepDuration::from_secs(1),
                gate: None,
            }
            .required_approvals(2),
            0
        );
    }

    #[test]
    fn traffic_steps_name_the_split_they_set() {
        assert_eq!(
            mirror(10).target_split("blue", "green"),
            Some(TrafficSplit::all_to("blue").mirrored_to("green", 10))
        );
        assert_eq!(
            shift(100).target_split("blue", "green"),
            Some(TrafficSplit::shifted("blue", "green", 100))
        );
        assert_eq!(Step::SmokeTest.target_split("blue", "green"), None);
    }

    #[cfg(feature = "openapi")]
    #[test]
    fn the_openapi_schema_shows_durations_as_text_and_steps_by_kind() {
        use utoipa::PartialSchema;
        let duration = serde_json::to_value(StepDuration::schema()).expect("serialize");
        assert_eq!(duration["type"], "string", "{duration}");
        let step = serde_json::to_string(&Step::schema()).expect("serialize");
        for kind in [
            "deploy",
            "smoke_test",
            "mirror",
            "shift",
            "bake",
            "delete_old",
        ] {
            assert!(step.contains(&format!("\"{kind}\"")), "{kind} in {step}");
        }
    }
}
