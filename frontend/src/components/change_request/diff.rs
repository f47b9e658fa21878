//! A traffic change's dry run: per deployment, its live and mirror share before → after, and
//! exactly the `traffic` / `mirror_traffic` maps that will be sent to the workspace — what the
//! approver actually approves.

use crate::components::traffic_bar::TrafficBar;
use leptos::prelude::*;
use shared::api::Split;
use shared::rollout::{DeploymentChange, TrafficDiff};

/// A map as it goes over the wire: `{"blue":90,"green":10}`.
fn wire(split: &Split) -> String {
    serde_json::to_string(split).unwrap_or_default()
}

fn shares(before: i64, after: i64) -> String {
    if before == after {
        format!("{after} %")
    } else {
        format!("{before} % → {after} %")
    }
}

#[component]
fn ChangeRow(change: DeploymentChange) -> impl IntoView {
    let name = change.deployment.clone();
    view! {
        <tr data-testid=format!("cr-change-{name}") data-changed=change.changed().to_string()>
            <th scope="row">{name.clone()}</th>
            <td data-label="Live" data-testid="cr-live">{shares(change.live_before, change.live_after)}</td>
            <td data-label="Mirror" data-testid="cr-mirror">{shares(change.mirror_before, change.mirror_after)}</td>
        </tr>
    }
}

#[component]
pub fn TrafficDiffView(diff: TrafficDiff) -> impl IntoView {
    let TrafficDiff {
        before,
        send,
        changes,
    } = diff;
    view! {
        <div class="cr-diff" data-testid="cr-diff">
            <div class="cr-bars">
                <div><span class="muted">"Before"</span>
                    <div data-testid="cr-before"><TrafficBar traffic=before.traffic.clone() mirror=before.mirror_traffic.clone() /></div></div>
                <div><span class="muted">"After"</span>
                    <div data-testid="cr-after"><TrafficBar traffic=send.traffic.clone() mirror=send.mirror_traffic.clone() /></div></div>
            </div>
            <div class="table-wrap">
                <table class="stack">
                    <thead><tr><th scope="col">"Deployment"</th><th scope="col">"Live"</th><th scope="col">"Mirror"</th></tr></thead>
                    <tbody>{changes.into_iter().map(|c| view! { <ChangeRow change=c /> }).collect_view()}</tbody>
                </table>
            </div>
            <p class="muted cr-wire-title">"Sent to the workspace, exactly (before → after):"</p>
            <dl class="cr-wire">
                <dt>"traffic"</dt>
                <dd><code data-testid="cr-before-traffic">{wire(&before.traffic)}</code> " → "
                    <code data-testid="cr-send-traffic">{wire(&send.traffic)}</code></dd>
                <dt>"mirror_traffic"</dt>
                <dd><code data-testid="cr-before-mirror">{wire(&before.mirror_traffic)}</code> " → "
                    <code data-testid="cr-send-mirror">{wire(&send.mirror_traffic)}</code></dd>
            </dl>
        </div>
    }
}

/// A stale request: the split it was made against, and the live split found instead.
#[component]
pub fn StaleView(diff: TrafficDiff) -> impl IntoView {
    view! {
        <div class="notice" role="alert" data-testid="cr-stale">
            <p>"Not applied: the endpoint's split changed after this was requested. Request it again against the current split."</p>
            <p>"Requested against " <code>{wire(&diff.before.traffic)}</code> " mirror " <code>{wire(&diff.before.mirror_traffic)}</code></p>
            <p>"Found " <code data-testid="cr-stale-live">{wire(&diff.send.traffic)}</code> " mirror " <code>{wire(&diff.send.mirror_traffic)}</code></p>
        </div>
    }
}
