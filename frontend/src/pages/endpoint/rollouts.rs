//! The endpoint's rollouts: a banner for the active one (linking to its page), the Start-rollout
//! button for operators when the endpoint can start one, and the history — outcome, duration,
//! approvers — each linking to its rollout page. Live: it reloads on every rollout event about
//! this endpoint, and reloads the endpoint too, whose split the rollout moves.

use super::start_rollout::StartRollout;
use super::{is_operator, use_endpoint};
use crate::api;
use crate::components::change_request::clock;
use crate::events::use_feed;
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use shared::api::rollouts::{RolloutList, RolloutSummary};
use shared::rollout::{check_rollout_start, RolloutState, TrafficSplit};

/// "4 min 5 s": how long a rollout took (or has taken so far).
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The outcome in words, for the history's readers.
pub fn outcome(state: RolloutState) -> &'static str {
    match state {
        RolloutState::Pending => "about to start",
        RolloutState::Running => "running",
        RolloutState::WaitingForApproval => "waiting for approval",
        RolloutState::Paused => "paused",
        RolloutState::Aborting => "aborting",
        RolloutState::RollingBack => "rolling back",
        RolloutState::Succeeded => "succeeded",
        RolloutState::Failed => "failed",
        RolloutState::Aborted => "aborted",
        RolloutState::RolledBack => "rolled back",
    }
}

fn href(r: &RolloutSummary) -> String {
    format!("/rollouts/{}", r.id)
}

#[component]
fn HistoryRow(rollout: RolloutSummary) -> impl IntoView {
    let took = rollout
        .finished_at
        .map(|end| span((end - rollout.created_at).num_seconds()));
    let approvers = rollout
        .approvers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let state = rollout.state.as_str();
    view! {
        <tr data-testid="rollout-row" data-rollout-id=rollout.id.to_string() data-state=state>
            <td data-label="Started">{clock(rollout.created_at)}</td>
            <td data-label="From → to">{format!("{} → {}", rollout.old_deployment, rollout.new_deployment)}</td>
            <td data-label="Outcome"><span class=format!("badge {state}") data-testid="rollout-outcome">{outcome(rollout.state)}</span></td>
            <td data-label="Duration" data-testid="rollout-duration">{took.unwrap_or_else(|| "under way".into())}</td>
            <td data-label="Approvers" data-testid="rollout-approvers">{approvers}</td>
            <td data-label="Started by">{rollout.started_by.to_string()}</td>
            <td><a href=href(&rollout) data-testid="rollout-link">"Open"</a></td>
        </tr>
    }
}

#[component]
pub fn RolloutsPanel() -> impl IntoView {
    let data = use_endpoint();
    let feed = use_feed();
    let list = Remote::<RolloutList>::new();
    let load = move || {
        let name = data.name();
        list.load(async move { api::rollouts(&name).await });
    };
    load();
    let moved = Memo::new(move |_| feed.rollout_activity(&data.name()));
    Effect::new(move |first: Option<()>| {
        // Read, not just tracked: a memo never read never subscribes to its sources.
        moved.with(|_| ());
        if first.is_some() {
            load();
            data.reload();
        }
    });
    let items = Memo::new(move |_| list.ok().map(|l| l.items).unwrap_or_default());
    let active =
        Memo::new(move |_| items.with(|i| i.iter().find(|r| r.state.is_active()).cloned()));
    // Why no rollout can start here now, for operators; `None` when one can. (An active
    // rollout has its banner instead.)
    let unavailable = move || -> Option<String> {
        let split = TrafficSplit::from(data.traffic()?);
        let names: Vec<String> = data.deployment_list().into_iter().map(|d| d.name).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        check_rollout_start(&split, &names, "")
            .err()
            .map(|e| e.to_string())
    };
    let open = RwSignal::new(false);
    let close = Callback::new(move |()| open.set(false));

    view! {
        <section class="card" aria-labelledby="rollouts-title" data-testid="rollouts">
            <h2 id="rollouts-title">"Rollouts"</h2>
            {move || active.get().map(|r| view! {
                <p class="notice" role="status" data-testid="active-rollout" data-state=r.state.as_str()>
                    {format!("Rollout {} → {} is {} (started by {}). ", r.old_deployment, r.new_deployment, outcome(r.state), r.started_by)}
                    <a href=href(&r) data-testid="active-rollout-link">"Open the rollout"</a>
                </p>
            })}
            {move || (is_operator() && !open.get() && active.with(Option::is_none) && data.endpoint.ok().is_some()).then(|| match unavailable() {
                None => view! {
                    <div class="actions">
                        <button type="button" data-testid="start-rollout" on:click=move |_| open.set(true)>"Start rollout…"</button>
                    </div>
                }.into_any(),
                Some(why) => view! {
                    <p class="muted" data-testid="start-rollout-unavailable">{why}</p>
                }.into_any(),
            })}
            {move || open.get().then(|| view! { <StartRollout on_close=close /> })}
            {move || list.error().map(|error| view! { <ErrorNote error=error /> })}
            {move || (list.ok().is_some() && items.with(Vec::is_empty)).then(|| view! {
                <p class="muted" data-testid="no-rollouts">"No rollout yet."</p>
            })}
            {move || (!items.with(Vec::is_empty)).then(|| view! {
                <div class="table-wrap">
                    <table class="stack" data-testid="rollout-history">
                        <thead><tr>
                            <th scope="col">"Started"</th><th scope="col">"From → to"</th><th scope="col">"Outcome"</th>
                            <th scope="col">"Duration"</th><th scope="col">"Approvers"</th><th scope="col">"Started by"</th><th scope="col"></th>
                        </tr></thead>
                        <tbody>
                            <For each=move || items.get() key=|r| (r.id, r.state, r.approvers.len()) let:rollout>
                                <HistoryRow rollout=rollout />
                            </For>
                        </tbody>
                    </table>
                </div>
            })}
        </section>
    }
}
