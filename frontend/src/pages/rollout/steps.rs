//! A rollout's plan as a timeline: each step with what it does, its state, when it started and
//! ended, the approvals it needed and who gave them — the current one highlighted — and below,
//! every transition in order with who caused it and why.

use crate::components::change_request::clock;
use crate::components::gate_card::{GateCard, GateWaiting};
use chrono::{DateTime, Timelike, Utc};
use leptos::prelude::*;
use shared::api::rollouts::{RolloutDetail, RolloutStepView, TimelineEntry, Transition};
use shared::format_iso8601_duration;
use shared::rollout::Step;

/// "05:40:12": steps of a short plan end seconds apart. By hand: chrono's formatter is sizeable
/// in wasm.
pub fn seconds(t: DateTime<Utc>) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// What a step does on this rollout, in words: "Shift 10 % of live traffic to green".
pub fn describe(step: &Step, old: &str, new: &str) -> String {
    let long = |d: std::time::Duration| format_iso8601_duration(d);
    match step {
        Step::Deploy => format!("Deploy {new} at 0 %"),
        Step::SmokeTest => format!("Smoke-test {new} with the model's sample request"),
        Step::Mirror {
            percent, duration, ..
        } => format!(
            "Mirror {percent} % of live requests to {new} for {}",
            long(duration.0)
        ),
        Step::Shift { percent, .. } => format!("Shift {percent} % of live traffic to {new}"),
        Step::Bake { duration, .. } => format!("Bake for {}", long(duration.0)),
        Step::DeleteOld { .. } => format!("Delete {old}"),
    }
}

#[component]
fn StepItem(view_: RolloutStepView, old: String, new: String, current: bool) -> impl IntoView {
    let state = view_.state.as_str();
    let times = match (view_.started_at, view_.finished_at) {
        (Some(s), Some(f)) => format!("{} → {}", seconds(s), seconds(f)),
        (Some(s), None) => format!("since {}", seconds(s)),
        _ => String::new(),
    };
    let approvals = (view_.required_approvals > 0).then(|| {
        let names: Vec<String> = view_.approvers.iter().map(ToString::to_string).collect();
        let needed = view_.required_approvals;
        let who = if names.is_empty() {
            String::new()
        } else {
            format!(" — approved by {}", names.join(", "))
        };
        view! {
            <span class="muted">{format!("needs {needed} approval{}", if needed == 1 { "" } else { "s" })}</span>
            <span data-testid="rollout-step-approvers">{who}</span>
        }
    });
    // A gated step shows its latest judgement, or the gate's settings until the first one.
    let gate = view_.step.gate().cloned();
    let gate_view = match (view_.gate, gate) {
        (Some(check), gate) => Some(view! { <GateCard check=check gate=gate /> }.into_any()),
        (None, Some(gate)) => {
            let window = view_.step.duration();
            Some(view! { <GateWaiting gate=gate window=window /> }.into_any())
        }
        (None, None) => None,
    };
    view! {
        <li class="rollout-step" class:current=current data-testid="rollout-step"
            data-index=view_.index.to_string() data-kind=view_.step.kind() data-state=state
            data-current=current.to_string() aria-current=current.then_some("step")>
            <span class=format!("badge {state}") data-testid="rollout-step-state">{state}</span>
            <strong>{format!("{}. {}", view_.index + 1, describe(&view_.step, &old, &new))}</strong>
            <time class="muted" data-testid="rollout-step-times">{times}</time>
            {approvals}
            {view_.error.map(|e| view! { <p class="error" data-testid="rollout-step-error">{e}</p> })}
            {gate_view}
        </li>
    }
}

/// The steps, in plan order.
#[component]
pub fn Steps(#[prop(into)] detail: Signal<Option<RolloutDetail>>) -> impl IntoView {
    move || {
        detail.get().map(|d| {
            let old = d.summary.old_deployment.to_string();
            let new = d.summary.new_deployment.to_string();
            let current = d.summary.current_step.filter(|_| d.summary.state.is_active());
            view! {
                <ol class="rollout-steps" data-testid="rollout-steps">
                    {d.steps.into_iter().map(|s| {
                        let is_current = current == Some(s.index);
                        view! { <StepItem view_=s old=old.clone() new=new.clone() current=is_current /> }
                    }).collect_view()}
                </ol>
            }
        })
    }
}

fn transition_text(t: &Transition) -> String {
    match t {
        Transition::Rollout { event, from, to } => format!("rollout {event}: {from} → {to}"),
        Transition::Step {
            index,
            event,
            from,
            to,
        } => format!("step {} {event}: {from} → {to}", index + 1),
    }
}

#[component]
fn Entry(entry: TimelineEntry) -> impl IntoView {
    let who = entry
        .actor
        .map(|a| a.to_string())
        .unwrap_or_else(|| "Greenlight".into());
    view! {
        <li data-testid="rollout-event">
            <time class="muted" title=clock(entry.at)>{seconds(entry.at)}</time>
            " " <strong>{who}</strong> " " {transition_text(&entry.transition)}
            {entry.reason.map(|r| view! { ": " <q data-testid="rollout-event-reason">{r}</q> })}
        </li>
    }
}

/// Every transition, newest last, folded away by default: the steps above say where it is.
#[component]
pub fn EventLog(#[prop(into)] detail: Signal<Option<RolloutDetail>>) -> impl IntoView {
    view! {
        <details class="rollout-log" data-testid="rollout-log">
            <summary>"Every transition"</summary>
            <ol>
                {move || detail.get().map(|d| d.timeline.into_iter().map(|e| view! { <Entry entry=e /> }).collect_view())}
            </ol>
        </details>
    }
}
