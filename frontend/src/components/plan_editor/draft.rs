//! The plan as the editor holds it: each field as typed, so a half-typed share or duration can
//! be shown with its own error instead of being lost, and the [`Plan`] it stands for, checked
//! with the very rules the server applies ([`shared::rollout::check_plan`], through
//! `StartRolloutRequest::check`).

use shared::gates::Gate;
use shared::rollout::{Plan, Step, StepDuration};
use shared::{format_iso8601_duration, parse_iso8601_duration, FieldError};

/// A step's kind; which fields it has follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deploy,
    SmokeTest,
    Mirror,
    Shift,
    Bake,
    DeleteOld,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::SmokeTest => "smoke_test",
            Self::Mirror => "mirror",
            Self::Shift => "shift",
            Self::Bake => "bake",
            Self::DeleteOld => "delete_old",
        }
    }

    pub fn has_percent(self) -> bool {
        matches!(self, Self::Mirror | Self::Shift)
    }

    pub fn has_duration(self) -> bool {
        matches!(self, Self::Mirror | Self::Bake)
    }

    pub fn has_approvals(self) -> bool {
        matches!(self, Self::Mirror | Self::Shift | Self::DeleteOld)
    }

    /// Deploy and smoke test are what every rollout needs; the rest people may drop.
    pub fn removable(self) -> bool {
        !matches!(self, Self::Deploy | Self::SmokeTest)
    }
}

/// The editable fields of a step, by their name in the plan's JSON (and in error fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Percent,
    Duration,
    Approvals,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Percent => "percent",
            Self::Duration => "duration",
            Self::Approvals => "approvals",
        }
    }
}

/// One step as typed. `key` stays with the step when others are added or removed, so its row
/// (and the input that has the focus) is kept. `gate` is carried as it came (the editor has
/// no form for it yet): a mirror or bake step keeps its gate, or gets the default one.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftStep {
    pub key: u32,
    pub kind: Kind,
    pub percent: String,
    pub duration: String,
    pub approvals: String,
    pub gate: Option<Gate>,
}

impl DraftStep {
    fn of(key: u32, step: &Step) -> Self {
        let kind = match step {
            Step::Deploy => Kind::Deploy,
            Step::SmokeTest => Kind::SmokeTest,
            Step::Mirror { .. } => Kind::Mirror,
            Step::Shift { .. } => Kind::Shift,
            Step::Bake { .. } => Kind::Bake,
            Step::DeleteOld { .. } => Kind::DeleteOld,
        };
        let percent = match step {
            Step::Mirror { percent, .. } | Step::Shift { percent, .. } => percent.to_string(),
            _ => String::new(),
        };
        Self {
            key,
            kind,
            percent,
            duration: step
                .duration()
                .map(format_iso8601_duration)
                .unwrap_or_default(),
            approvals: step.approvals().to_string(),
            gate: step.gate().cloned(),
        }
    }

    pub fn get(&self, field: Field) -> &str {
        match field {
            Field::Percent => &self.percent,
            Field::Duration => &self.duration,
            Field::Approvals => &self.approvals,
        }
    }

    /// The step it stands for, and what could not be read. An unreadable field gets a value
    /// that breaks no rule of the *other* steps (a share of 0 is below every later one), so the
    /// plan check adds nothing misleading elsewhere; its own field shows the reading error.
    fn to_step(&self, index: usize, problems: &mut Vec<FieldError>) -> Step {
        let mut problem = |field: Field, message: String| {
            problems.push(FieldError {
                field: format!("steps[{index}].{}", field.as_str()),
                message,
            })
        };
        let percent = match self.percent.trim().parse::<i64>() {
            Ok(p) => p,
            Err(_) => {
                if self.kind.has_percent() {
                    problem(
                        Field::Percent,
                        "a share is a whole number of percent".into(),
                    );
                }
                0
            }
        };
        let duration = match parse_iso8601_duration(self.duration.trim()) {
            Ok(d) => StepDuration(d),
            Err(err) => {
                if self.kind.has_duration() {
                    problem(Field::Duration, err.to_string());
                }
                StepDuration::from_secs(0)
            }
        };
        let approvals = match self.approvals.trim().parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                if self.kind.has_approvals() {
                    problem(Field::Approvals, "a whole number of approvals".into());
                }
                u32::from(self.kind != Kind::Mirror)
            }
        };
        match self.kind {
            Kind::Deploy => Step::Deploy,
            Kind::SmokeTest => Step::SmokeTest,
            Kind::Mirror => Step::Mirror {
                percent,
                duration,
                approvals,
                gate: self.gate.clone(),
            },
            Kind::Shift => Step::Shift { percent, approvals },
            Kind::Bake => Step::Bake {
                duration,
                gate: self.gate.clone(),
            },
            Kind::DeleteOld => Step::DeleteOld { approvals },
        }
    }
}

/// The whole plan as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub steps: Vec<DraftStep>,
    next_key: u32,
}

impl Draft {
    pub fn of(plan: &Plan) -> Self {
        let steps: Vec<DraftStep> = plan
            .steps
            .iter()
            .zip(0u32..)
            .map(|(step, key)| DraftStep::of(key, step))
            .collect();
        Self {
            next_key: u32::try_from(steps.len()).unwrap_or(u32::MAX),
            steps,
        }
    }

    /// The seed's seven steps, which every new rollout starts from.
    pub fn seed() -> Self {
        Self::of(&Plan::seed_default())
    }

    /// The plan, and each field that could not be read (named `steps[i].field`).
    pub fn plan(&self) -> (Plan, Vec<FieldError>) {
        let mut problems = Vec::new();
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| s.to_step(i, &mut problems))
            .collect();
        (Plan { steps }, problems)
    }

    pub fn position(&self, key: u32) -> Option<usize> {
        self.steps.iter().position(|s| s.key == key)
    }

    pub fn step(&self, key: u32) -> Option<&DraftStep> {
        self.steps.iter().find(|s| s.key == key)
    }

    pub fn set(&mut self, key: u32, field: Field, value: String) {
        if let Some(step) = self.steps.iter_mut().find(|s| s.key == key) {
            match field {
                Field::Percent => step.percent = value,
                Field::Duration => step.duration = value,
                Field::Approvals => step.approvals = value,
            }
        }
    }

    pub fn remove(&mut self, key: u32) {
        self.steps.retain(|s| s.key != key || !s.kind.removable());
    }

    /// Where a new intermediate step goes: before the last shift (the one to 100 %), else
    /// before deleting blue, else at the end.
    fn insertion_point(&self) -> usize {
        let last = |kind: Kind| self.steps.iter().rposition(|s| s.kind == kind);
        last(Kind::Shift)
            .or_else(|| last(Kind::DeleteOld))
            .unwrap_or(self.steps.len())
    }

    /// Adds a shift half-way between the shift before it (or 0) and the last one (or 100):
    /// 10 → 100 becomes 10 → 55 → 100, which people then edit.
    pub fn add_shift(&mut self) {
        let at = self.insertion_point();
        let share = |s: &DraftStep| s.percent.trim().parse::<i64>().ok();
        let before = self.steps[..at]
            .iter()
            .rev()
            .find(|s| s.kind == Kind::Shift)
            .and_then(share)
            .unwrap_or(0);
        let after = self
            .steps
            .get(at)
            .filter(|s| s.kind == Kind::Shift)
            .and_then(share)
            .unwrap_or(100);
        let step = Step::Shift {
            percent: (before + after) / 2,
            approvals: 1,
        };
        self.insert(at, &step);
    }

    /// Adds a bake of 10 minutes before the last shift, to watch the share before it.
    pub fn add_bake(&mut self) {
        let at = self.insertion_point();
        let step = Step::Bake {
            duration: StepDuration::from_secs(10 * 60),
            gate: Some(Gate::default()),
        };
        self.insert(at, &step);
    }

    /// Turns step `key`'s gate on (the default gate, or the one it had) or off.
    pub fn set_gate(&mut self, key: u32, on: bool) {
        if let Some(step) = self.steps.iter_mut().find(|s| s.key == key) {
            match (on, step.gate.is_some()) {
                (true, false) => step.gate = Some(Gate::default()),
                (false, true) => step.gate = None,
                _ => {}
            }
        }
    }

    fn insert(&mut self, at: usize, step: &Step) {
        let key = self.next_key;
        self.next_key = self.next_key.saturating_add(1);
        self.steps.insert(at, DraftStep::of(key, step));
    }
}
