//! The endpoint's deployments: what each runs, how many instances, its state; scaling, followed
//! live to its end, and asking for a deployment to be deleted (a change request: it goes once
//! approved).

use super::{is_operator, use_endpoint};
use crate::api::{self, ApiError};
use crate::components::change_request::RequestStatus;
use crate::components::confirm_delete::ConfirmDelete;
use crate::components::operation_progress::TrackedOperation;
use crate::events::use_feed;
use crate::remote::ErrorNote;
use crate::submit::{started, AnswerExt};
use leptos::prelude::*;
use shared::api::{check_instance_count, DeploymentSummary};

/// "ready / wanted". The ready count comes from the workspace's metrics when it reports one
/// (the local workspace does). Otherwise the state stands in: Azure brings every instance up
/// before a deployment reaches `Succeeded`, and one still provisioning shows "…".
fn instances(d: &DeploymentSummary, ready: Option<u64>) -> String {
    let wanted = d.instance_count.unwrap_or(0);
    match (ready, d.provisioning_state.as_deref()) {
        (Some(ready), _) => format!("{ready} / {wanted}"),
        (None, Some("Succeeded")) => format!("{wanted} / {wanted}"),
        (None, Some("Failed")) => format!("0 / {wanted}"),
        (None, _) => format!("… / {wanted}"),
    }
}

/// How ready a deployment is: a deployment Azure calls `Succeeded` with none of its instances
/// ready serves nothing, and must not read as healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    /// Every wanted instance ready, or no count reported.
    Ready,
    /// Some ready, fewer than wanted.
    Partly,
    /// None ready although some are wanted.
    NotReady,
}

fn readiness(d: &DeploymentSummary, ready: Option<u64>) -> Readiness {
    let wanted = d.instance_count.unwrap_or(0).max(0) as u64;
    match ready {
        Some(0) if wanted > 0 => Readiness::NotReady,
        Some(r) if r < wanted => Readiness::Partly,
        _ => Readiness::Ready,
    }
}

/// The state cell: the provisioning state, but "Not ready" in red when it says `Succeeded`
/// and no instance is ready.
#[component]
fn StateCell(d: DeploymentSummary, ready: Option<u64>) -> impl IntoView {
    let state = d.provisioning_state.clone().unwrap_or_default();
    match (readiness(&d, ready), state.as_str()) {
        (Readiness::NotReady, "Succeeded") => view! {
            <span class="badge failed" data-testid="deployment-not-ready"
                title="Provisioned, but no instance is ready: it answers no requests">"Not ready"</span>
            " " <span class="muted">{format!("(provisioned, 0 of {} instances ready)", d.instance_count.unwrap_or(0))}</span>
        }
        .into_any(),
        _ => view! { {state} }.into_any(),
    }
}

/// The asset's name and version from `azureml:name:version` (or the reference as it is).
fn short_asset(reference: &str) -> String {
    match reference.strip_prefix("azureml:") {
        Some(short) => short.to_owned(),
        None => reference
            .rsplit("/models/")
            .next()
            .unwrap_or(reference)
            .replace("/versions/", ":"),
    }
}

#[component]
pub fn Deployments() -> impl IntoView {
    let data = use_endpoint();
    let names = Memo::new(move |_| {
        data.deployment_list()
            .into_iter()
            .map(|d| d.name)
            .collect::<Vec<_>>()
    });
    view! {
        <section class="card" aria-labelledby="deployments-title">
            <h2 id="deployments-title">"Deployments"</h2>
            {move || data.deployments.error().map(|error| view! { <ErrorNote error=error /> })}
            {move || if names.with(Vec::is_empty) {
                view! { <p class="muted" data-testid="no-deployments">"No deployments yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="stack" data-testid="deployment-table">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Model"</th>
                                <th scope="col">"Instance type"</th><th scope="col">"Instances ready / wanted"</th>
                                <th scope="col">"State"</th><th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                <For each=move || names.get() key=|name| name.clone() let:name>
                                    <DeploymentRow name=name />
                                </For>
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// One deployment; keyed by name, it reads its own data so a reload never resets what the
/// user typed in its scale box.
#[component]
fn DeploymentRow(name: String) -> impl IntoView {
    let data = use_endpoint();
    let feed = use_feed();
    let row_name = name.clone();
    let summary = Memo::new(move |_| {
        data.deployment_list()
            .into_iter()
            .find(|d| d.name == row_name)
    });
    let count = RwSignal::new(String::new());
    let touched = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(wanted) = summary.get().and_then(|d| d.instance_count) {
            if !touched.get_untracked() {
                count.set(wanted.to_string());
            }
        }
    });
    let scale_name = name.clone();
    let scale_action = Action::new_local(move |count: &i64| {
        let (endpoint, deployment, count) = (data.name(), scale_name.clone(), *count);
        async move {
            let op = api::scale(&endpoint, &deployment, count).await?;
            touched.set(false);
            feed.record(op.clone());
            Ok::<_, ApiError>(op)
        }
    });
    // Deleting asks first: the row follows the change request it made.
    let delete_name = name.clone();
    let delete_action = Action::new_local(move |reason: &String| {
        let (endpoint, deployment, reason) = (data.name(), delete_name.clone(), reason.clone());
        async move {
            let request = api::delete_deployment(&endpoint, &deployment, &reason).await?;
            feed.record_request(request.summary.clone());
            Ok::<_, ApiError>(request)
        }
    });
    let scaling = scale_action.pending();
    let deleting = delete_action.pending();
    let pending = Memo::new(move |_| scaling.get() || deleting.get());
    let answer = scale_action.value();
    let delete_answer = delete_action.value();
    let requested = Signal::derive(move || delete_answer.accepted(|d| d.summary.id));
    let scale_problem = Memo::new(move |_| match count.get().trim().parse::<i64>() {
        Ok(n) => check_instance_count(n).err().map(|e| e.message),
        Err(_) => Some("instance_count must be a whole number".to_owned()),
    });

    let scale = move |_| {
        if let (Ok(n), false) = (
            count.get_untracked().trim().parse(),
            pending.get_untracked(),
        ) {
            scale_action.dispatch_local(n);
        }
    };
    let delete = Callback::new(move |reason: String| {
        delete_action.dispatch_local(reason);
    });
    let blocked_name = name.clone();
    // Azure refuses to delete a deployment that takes traffic; say so before anyone tries.
    let blocked = Signal::derive(move || {
        data.traffic().and_then(|t| {
            shared::check_deployment_delete(&blocked_name, &t.traffic, &t.mirror_traffic)
                .err()
                .map(|v| v.message)
        })
    });

    let ready_name = name.to_ascii_lowercase();
    let ready = Memo::new(move |_| data.ready_instances.with(|r| r.get(&ready_name).copied()));
    let ready_now = move || ready.get();
    let readiness_now = move || {
        summary
            .get()
            .map(|d| readiness(&d, ready.get()))
            .unwrap_or(Readiness::Ready)
    };
    let n = name.clone();
    view! {
        <tr data-testid=format!("deployment-row-{n}")>
            <th scope="row">{n.clone()}</th>
            <td data-label="Model" data-testid=format!("deployment-model-{n}")>{move || summary.get().and_then(|d| d.model).map(|m| short_asset(&m))}</td>
            <td data-label="Instance type">{move || summary.get().and_then(|d| d.instance_type)}</td>
            <td data-label="Instances ready / wanted" data-testid=format!("deployment-instances-{n}")
                data-readiness=move || format!("{:?}", readiness_now()).to_lowercase()
                class=move || match readiness_now() {
                    Readiness::NotReady => "readiness not-ready",
                    Readiness::Partly => "readiness partly",
                    Readiness::Ready => "",
                }>{move || summary.get().map(|d| instances(&d, ready_now()))}</td>
            <td data-label="State" data-testid=format!("deployment-state-{n}")>{move || summary.get().map(|d| view! { <StateCell d=d ready=ready_now() /> })}</td>
            <td class="row-actions">
                {move || is_operator().then(|| {
                    let n = name.clone();
                    view! {
                        <span class="scale">
                            <input type="number" min="1" max="50" step="1" inputmode="numeric" class="count"
                                data-testid=format!("scale-count-{n}")
                                aria-label=format!("Instances for {n}")
                                prop:value=move || count.get()
                                on:input=move |ev| { touched.set(true); count.set(event_target_value(&ev)) } />
                            <button type="button" class="secondary small" data-testid=format!("scale-{n}")
                                aria-label=format!("Scale {n}")
                                disabled=move || pending.get() || scale_problem.get().is_some()
                                on:click=scale>"Scale"</button>
                        </span>
                        <ConfirmDelete what="deployment" name=n.clone() blocked=blocked busy=pending on_confirm=delete />
                        {move || scale_problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
                    }
                })}
                {move || answer.refused(scaling).map(|error| view! { <ErrorNote error=error /> })}
                {move || delete_answer.refused(deleting).map(|error| view! { <ErrorNote error=error /> })}
                <TrackedOperation id=started(answer) />
                <RequestStatus id=requested what="deletion" />
            </td>
        </tr>
    }
}
