//! The plan rules, written once: [`check_plan`], which the plan editor runs as the user types and
//! the server runs before it stores a plan, and [`check_rollout_start`], the endpoint a rollout
//! may start from.

use super::change_request::{MAX_REQUIRED_APPROVALS, MIN_REQUIRED_APPROVALS};
use super::plan::{Plan, Step, MAX_STEPS, MAX_STEP_DURATION};
use super::split::TrafficSplit;
use crate::error::FieldError;
use crate::limits::{format_iso8601_duration, MAX_MIRROR_PERCENT};
use crate::traffic::TRAFFIC_TOTAL_PERCENT;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The rules a plan must keep; the serialized name is the rule's stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanRule {
    /// 1 to [`MAX_STEPS`] steps.
    StepCount,
    /// The first step deploys green, and no other step does: every later step needs green.
    DeployFirst,
    /// Green answers its sample request before it takes live traffic.
    SmokeTestBeforeLiveTraffic,
    /// A mirror share is 1–50 % (Azure's mirror limit).
    MirrorShare,
    /// Mirroring only before the first shift: Azure refuses a deployment that is both live and
    /// mirrored, and mirroring to blue tells nothing.
    MirrorBeforeLiveTraffic,
    /// A live share is 1–100 %.
    ShiftShare,
    /// Each shift sends more traffic to green than the one before: a plan moves forward; going
    /// back is a rollback, which needs no plan.
    SharesIncrease,
    /// The plan shifts live traffic, and its last shift is to 100 %: a rollout that ends with
    /// two live deployments has not moved the endpoint.
    EndsAtFullTraffic,
    /// Deleting blue is the last step (so it follows the shift to 100 %): after it, nothing can
    /// go back to blue.
    DeleteOldLast,
    /// Mirror and bake last at most [`MAX_STEP_DURATION`].
    Duration,
    /// Approvals per step: 1–5 for shift and delete_old, 0–5 for mirror.
    Approvals,
    /// A gate's rules are in range ([`crate::gates::Gate::problems`]).
    Gate,
}

/// One broken plan rule: the field path (`steps[3].percent`), the rule, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanViolation {
    pub field: String,
    pub rule: PlanRule,
    pub message: String,
}

impl From<PlanViolation> for FieldError {
    fn from(v: PlanViolation) -> Self {
        FieldError {
            field: v.field,
            message: v.message,
        }
    }
}

impl fmt::Display for PlanViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Checks every plan rule and reports each broken one, in step order.
pub fn check_plan(plan: &Plan) -> Result<(), Vec<PlanViolation>> {
    let mut out = Vec::new();
    let mut push = |field: String, rule: PlanRule, message: String| {
        out.push(PlanViolation {
            field,
            rule,
            message,
        })
    };
    let steps = &plan.steps;
    if steps.is_empty() || steps.len() > MAX_STEPS {
        push(
            "steps".into(),
            PlanRule::StepCount,
            format!("a plan has 1 to {MAX_STEPS} steps (got {})", steps.len()),
        );
    }
    if steps.first().is_some_and(|s| *s != Step::Deploy) {
        push(
            "steps[0].kind".into(),
            PlanRule::DeployFirst,
            "the first step must deploy the new deployment".into(),
        );
    }
    let mut smoke_tested = false;
    let mut last_shift: Option<(usize, i64)> = None;
    for (i, step) in steps.iter().enumerate() {
        let at = |name: &str| format!("steps[{i}].{name}");
        if let Some(d) = step.duration().filter(|d| *d > MAX_STEP_DURATION) {
            push(
                at("duration"),
                PlanRule::Duration,
                format!(
                    "a {} lasts at most {} (got {})",
                    step.kind(),
                    format_iso8601_duration(MAX_STEP_DURATION),
                    format_iso8601_duration(d)
                ),
            );
        }
        if let Some(gate) = step.gate() {
            for (field, message) in gate.problems() {
                push(at(&format!("gate.{field}")), PlanRule::Gate, message);
            }
        }
        let min_approvals = match step {
            Step::Mirror { .. } => 0,
            _ => MIN_REQUIRED_APPROVALS,
        };
        let approvals = step.approvals();
        let gated = matches!(
            step,
            Step::Mirror { .. } | Step::Shift { .. } | Step::DeleteOld { .. }
        );
        if gated && !(min_approvals..=MAX_REQUIRED_APPROVALS).contains(&approvals) {
            push(
                at("approvals"),
                PlanRule::Approvals,
                format!(
                    "a {} needs {min_approvals} to {MAX_REQUIRED_APPROVALS} approvals (got {approvals})",
                    step.kind()
                ),
            );
        }
        match step {
            Step::Deploy if i > 0 => push(
                at("kind"),
                PlanRule::DeployFirst,
                "deploy may only be the first step".into(),
            ),
            Step::Deploy | Step::Bake { .. } => {}
            Step::SmokeTest => smoke_tested = true,
            Step::Mirror { percent, .. } => {
                if !(1..=MAX_MIRROR_PERCENT).contains(percent) {
                    push(
                        at("percent"),
                        PlanRule::MirrorShare,
                        format!("a mirror share must be between 1 and {MAX_MIRROR_PERCENT} (got {percent})"),
                    );
                }
                if let Some((first, _)) = last_shift {
                    push(
                        at("kind"),
                        PlanRule::MirrorBeforeLiveTraffic,
                        format!("mirroring must come before the first shift (steps[{first}])"),
                    );
                }
            }
            Step::Shift { percent, .. } => {
                if !(1..=TRAFFIC_TOTAL_PERCENT).contains(percent) {
                    push(
                        at("percent"),
                        PlanRule::ShiftShare,
                        format!(
                            "a shift must be between 1 and {TRAFFIC_TOTAL_PERCENT} (got {percent})"
                        ),
                    );
                }
                match last_shift {
                    Some((j, before)) if *percent <= before => push(
                        at("percent"),
                        PlanRule::SharesIncrease,
                        format!("each shift must be more than the one before ({before} in steps[{j}], got {percent})"),
                    ),
                    None if !smoke_tested => push(
                        at("kind"),
                        PlanRule::SmokeTestBeforeLiveTraffic,
                        "a smoke test must come before the first shift".into(),
                    ),
                    _ => {}
                }
                last_shift = Some((i, *percent));
            }
            Step::DeleteOld { .. } if i + 1 != steps.len() => push(
                at("kind"),
                PlanRule::DeleteOldLast,
                "delete_old may only be the last step".into(),
            ),
            Step::DeleteOld { .. } => {}
        }
    }
    match last_shift {
        None if !steps.is_empty() => push(
            "steps".into(),
            PlanRule::EndsAtFullTraffic,
            "a plan must shift live traffic to the new deployment, ending at 100".into(),
        ),
        Some((j, last)) if last != TRAFFIC_TOTAL_PERCENT => push(
            format!("steps[{j}].percent"),
            PlanRule::EndsAtFullTraffic,
            format!("the last shift must be to {TRAFFIC_TOTAL_PERCENT} (got {last})"),
        ),
        _ => {}
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

/// Why a rollout can't start on an endpoint as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRefused {
    /// A rollout moves traffic from one deployment; with none or several live there is no
    /// "blue" to return to.
    NoSingleLiveDeployment,
    /// Mirroring is on: the rollout's known-good split must be a plain one it can restore.
    MirrorOn,
    /// The new deployment's name is taken on this endpoint.
    NewDeploymentExists(String),
}

impl fmt::Display for StartRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSingleLiveDeployment => f.write_str(
                "a rollout starts from one deployment taking all live traffic; set the traffic first",
            ),
            Self::MirrorOn => f.write_str("turn mirroring off before starting a rollout"),
            Self::NewDeploymentExists(name) => {
                write!(f, "the endpoint already has a deployment named {name:?}")
            }
        }
    }
}

impl std::error::Error for StartRefused {}

/// The rule for starting a rollout of `new` on an endpoint whose split is `live` and whose
/// deployments are `deployments`: returns blue's name, the deployment that takes all live
/// traffic. The split itself becomes the rollout's known-good split.
pub fn check_rollout_start(
    live: &TrafficSplit,
    deployments: &[&str],
    new: &str,
) -> Result<String, StartRefused> {
    if deployments.iter().any(|d| d.eq_ignore_ascii_case(new)) {
        return Err(StartRefused::NewDeploymentExists(new.to_owned()));
    }
    let effective = live.effective();
    if !effective.mirror_traffic.is_empty() {
        return Err(StartRefused::MirrorOn);
    }
    let full: Vec<&String> = live
        .traffic
        .iter()
        .filter(|(_, &share)| share == TRAFFIC_TOTAL_PERCENT)
        .map(|(name, _)| name)
        .collect();
    match (full.as_slice(), effective.traffic.len()) {
        ([blue], 1) => Ok((*blue).clone()),
        _ => Err(StartRefused::NoSingleLiveDeployment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::plan::StepDuration;

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

    /// The violations of a plan, as (field, rule).
    fn broken(steps: Vec<Step>) -> Vec<(String, PlanRule)> {
        check_plan(&Plan { steps })
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.field, v.rule))
            .collect()
    }

    fn one(field: &str, rule: PlanRule) -> Vec<(String, PlanRule)> {
        vec![(field.to_owned(), rule)]
    }

    #[test]
    fn step_count_is_one_to_twenty() {
        assert_eq!(broken(vec![]), one("steps", PlanRule::StepCount));
        let mut long = seed();
        long.splice(
            4..4,
            (0..14).map(|_| Step::Bake {
                duration: StepDuration::from_secs(1),
                gate: None,
            }),
        );
        assert_eq!(long.len(), 21);
        assert_eq!(broken(long), one("steps", PlanRule::StepCount));
    }

    #[test]
    fn deploy_first_exactly_once() {
        let mut steps = seed();
        steps.remove(0);
        assert_eq!(broken(steps), one("steps[0].kind", PlanRule::DeployFirst));
        let mut twice = seed();
        twice.insert(4, Step::Deploy);
        assert_eq!(broken(twice), one("steps[4].kind", PlanRule::DeployFirst));
    }

    #[test]
    fn smoke_test_before_live_traffic() {
        let mut steps = seed();
        steps.remove(1);
        assert_eq!(
            broken(steps),
            one("steps[2].kind", PlanRule::SmokeTestBeforeLiveTraffic)
        );
    }

    #[test]
    fn mirror_share_is_one_to_fifty() {
        for bad in [0, 51, -5] {
            let mut steps = seed();
            steps[2] = mirror(bad);
            assert_eq!(
                broken(steps),
                one("steps[2].percent", PlanRule::MirrorShare)
            );
        }
        let mut steps = seed();
        steps[2] = mirror(50);
        assert_eq!(broken(steps), vec![]);
    }

    #[test]
    fn mirror_before_live_traffic() {
        let mut steps = seed();
        steps.insert(4, mirror(10));
        assert_eq!(
            broken(steps),
            one("steps[4].kind", PlanRule::MirrorBeforeLiveTraffic)
        );
    }

    #[test]
    fn shift_share_is_one_to_one_hundred() {
        let mut steps = seed();
        steps[3] = shift(0);
        assert_eq!(broken(steps), one("steps[3].percent", PlanRule::ShiftShare));
        let mut steps = seed();
        steps[5] = shift(101);
        let v = check_plan(&Plan { steps }).expect_err("101");
        assert_eq!(v[0].rule, PlanRule::ShiftShare);
        assert_eq!(v[0].message, "a shift must be between 1 and 100 (got 101)");
    }

    #[test]
    fn shares_increase_across_shifts() {
        let mut steps = seed();
        steps.insert(5, shift(50));
        assert_eq!(broken(steps.clone()), vec![]);
        steps[5] = shift(10);
        assert_eq!(
            broken(steps),
            one("steps[5].percent", PlanRule::SharesIncrease)
        );
    }

    #[test]
    fn ends_at_full_traffic() {
        let mut steps = seed();
        steps.truncate(5);
        assert_eq!(
            broken(steps),
            one("steps[3].percent", PlanRule::EndsAtFullTraffic)
        );
        let only_deploy = vec![Step::Deploy, Step::SmokeTest];
        assert_eq!(
            broken(only_deploy),
            one("steps", PlanRule::EndsAtFullTraffic)
        );
    }

    #[test]
    fn delete_old_last() {
        let mut steps = seed();
        steps.swap(5, 6);
        assert_eq!(broken(steps), one("steps[5].kind", PlanRule::DeleteOldLast));
        let mut kept = seed();
        kept.pop();
        assert_eq!(broken(kept), vec![], "deleting blue is optional");
    }

    #[test]
    fn duration_is_at_most_a_day() {
        let mut steps = seed();
        steps[4] = Step::Bake {
            duration: StepDuration::from_secs(24 * 3600 + 1),
            gate: None,
        };
        let v = check_plan(&Plan { steps }).expect_err("too long");
        assert_eq!(
            (v[0].field.as_str(), v[0].rule),
            ("steps[4].duration", PlanRule::Duration)
        );
        assert_eq!(v[0].message, "a bake lasts at most P1D (got P1DT1S)");
        let mut zero = seed();
        zero[4] = Step::Bake {
            duration: StepDuration::from_secs(0),
            gate: None,
        };
        assert_eq!(broken(zero), vec![]);
    }

    #[test]
    fn approvals_are_bounded_per_step() {
        let mut steps = seed();
        steps[3] = Step::Shift {
            percent: 10,
            approvals: 0,
        };
        steps[6] = Step::DeleteOld { approvals: 6 };
        steps[2] = Step::Mirror {
            percent: 10,
            duration: StepDuration::from_secs(1),
            approvals: 6,
            gate: None,
        };
        assert_eq!(
            broken(steps),
            vec![
                ("steps[2].approvals".to_owned(), PlanRule::Approvals),
                ("steps[3].approvals".to_owned(), PlanRule::Approvals),
                ("steps[6].approvals".to_owned(), PlanRule::Approvals),
            ]
        );
    }

    #[test]
    fn a_rollout_starts_from_one_live_deployment_without_mirror() {
        let live = TrafficSplit::shifted("blue", "old", 0);
        assert_eq!(
            check_rollout_start(&live, &["blue", "old"], "green"),
            Ok("blue".into())
        );
        assert_eq!(
            check_rollout_start(&live, &["blue", "Green"], "green"),
            Err(StartRefused::NewDeploymentExists("green".into()))
        );
        let split = TrafficSplit::shifted("blue", "old", 10);
        assert_eq!(
            check_rollout_start(&split, &["blue", "old"], "green"),
            Err(StartRefused::NoSingleLiveDeployment)
        );
        assert_eq!(
            check_rollout_start(&TrafficSplit::default(), &[], "green"),
            Err(StartRefused::NoSingleLiveDeployment)
        );
        let mirrored = TrafficSplit::all_to("blue").mirrored_to("old", 5);
        assert_eq!(
            check_rollout_start(&mirrored, &["blue", "old"], "green"),
            Err(StartRefused::MirrorOn)
        );
        let mirror_zero = TrafficSplit::all_to("blue").mirrored_to("old", 0);
        assert!(check_rollout_start(&mirror_zero, &["blue", "old"], "green").is_ok());
    }

    #[test]
    fn a_plan_violation_becomes_a_field_error() {
        let v = PlanViolation {
            field: "steps[3].percent".into(),
            rule: PlanRule::ShiftShare,
            message: "m".into(),
        };
        assert_eq!(v.to_string(), "steps[3].percent: m");
        assert_eq!(
            serde_json::to_value(v.rule).expect("serialize"),
            serde_json::json!("shift_share")
        );
        assert_eq!(FieldError::from(v).field, "steps[3].percent");
    }
}
