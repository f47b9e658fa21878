//! The Start-rollout dialog: the new ("green") deployment — name, model, environment, instance
//! type and count, pre-filled from the deployment that takes the traffic now — and the plan,
//! pre-filled with the seed's steps. Everything is checked as the user types with the rules the
//! server applies (`StartRolloutRequest::check`, `check_rollout_start`), each problem shown next
//! to its field, and Start stays disabled while any rule is broken.

use super::new_deployment::AssetSelect;
use super::use_endpoint;
use crate::api::{self, ApiError};
use crate::components::plan_editor::draft::Draft;
use crate::components::plan_editor::PlanEditor;
use crate::remote::{ErrorNote, Remote};
use crate::submit::AnswerExt;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use shared::api::rollouts::{RolloutDetail, StartRolloutRequest};
use shared::api::{AssetKind, AssetList, CreateDeploymentRequest, DeploymentSummary};
use shared::rollout::{check_rollout_start, StartRefused, TrafficSplit};
use shared::FieldError;
use std::collections::BTreeMap;

/// The problems of `field`, shown under it.
#[component]
fn FieldNote(problems: Memo<Vec<FieldError>>, field: &'static str) -> impl IntoView {
    move || {
        problems.with(|all| {
            all.iter()
                .filter(|p| p.field == field)
                .map(|p| {
                    view! { <span class="error field-problem" data-testid="rollout-problem" data-field=field>{p.message.clone()}</span> }
                })
                .collect_view()
        })
    }
}

/// The deployment taking all live traffic, whose spec the new one starts from.
fn blue_of(
    deployments: &[DeploymentSummary],
    split: Option<TrafficSplit>,
) -> Option<DeploymentSummary> {
    let split = split?;
    let names: Vec<&str> = deployments.iter().map(|d| d.name.as_str()).collect();
    let blue = check_rollout_start(&split, &names, "").ok()?;
    deployments.iter().find(|d| d.name == blue).cloned()
}

#[component]
pub fn StartRollout(on_close: Callback<()>) -> impl IntoView {
    let data = use_endpoint();
    let navigate = use_navigate();
    let models = Remote::<AssetList>::new();
    let environments = Remote::<AssetList>::new();
    models.load(api::assets(AssetKind::Models));
    environments.load(api::assets(AssetKind::Environments));

    let split = move || data.traffic().map(TrafficSplit::from);
    // Read once: the form starts from what the endpoint had when the dialog opened.
    let blue = untrack(|| blue_of(&data.deployment_list(), split()));
    let name = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let environment = RwSignal::new(
        blue.as_ref()
            .and_then(|b| b.environment.clone())
            .unwrap_or_default(),
    );
    let instance_type = RwSignal::new(
        blue.as_ref()
            .and_then(|b| b.instance_type.clone())
            .unwrap_or_else(|| "Standard_DS3_v2".to_owned()),
    );
    let count = RwSignal::new(
        blue.as_ref()
            .and_then(|b| b.instance_count)
            .unwrap_or(1)
            .to_string(),
    );
    let reason = RwSignal::new(String::new());
    let draft = RwSignal::new(Draft::seed());

    // The request as typed, and every broken rule by its field from the body's root.
    let checked = Memo::new(move |_| {
        let (plan, unreadable) = draft.with(Draft::plan);
        let mut problems: Vec<FieldError> = unreadable
            .into_iter()
            .map(|p| FieldError {
                field: format!("plan.{}", p.field),
                message: p.message,
            })
            .collect();
        let instance_count = count.with(|c| c.trim().parse::<i64>()).unwrap_or_else(|_| {
            problems.push(FieldError {
                field: "deployment.instance_count".into(),
                message: "the instance count is a whole number".into(),
            });
            1
        });
        let optional = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let request = StartRolloutRequest {
            deployment: CreateDeploymentRequest {
                name: name.get().trim().to_owned(),
                model: model.get(),
                environment: optional(environment.get()),
                code: None,
                scoring_script: None,
                instance_type: instance_type.get().trim().to_owned(),
                instance_count,
                environment_variables: BTreeMap::new(),
                request_settings: None,
                liveness_probe: None,
                readiness_probe: None,
            },
            plan,
            reason: optional(reason.get()),
        };
        for e in request.check().err().unwrap_or_default() {
            if !problems.iter().any(|p| p.field == e.field) {
                problems.push(e);
            }
        }
        // The endpoint's side of the rule: one live deployment, no mirror, a new name.
        if let Some(split) = split() {
            let names: Vec<String> = data.deployment_list().into_iter().map(|d| d.name).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            match check_rollout_start(&split, &names, &request.deployment.name) {
                Ok(_) => {}
                Err(refused @ StartRefused::NewDeploymentExists(_)) => problems.push(FieldError {
                    field: "deployment.name".into(),
                    message: refused.to_string(),
                }),
                Err(refused) => problems.push(FieldError {
                    field: "endpoint".into(),
                    message: refused.to_string(),
                }),
            }
        }
        (request, problems)
    });
    let problems = Memo::new(move |_| checked.with(|(_, p)| p.clone()));
    let plan_problems = Signal::derive(move || {
        problems.with(|all| {
            all.iter()
                .filter_map(|p| {
                    p.field.strip_prefix("plan.").map(|field| FieldError {
                        field: field.to_owned(),
                        message: p.message.clone(),
                    })
                })
                .collect::<Vec<_>>()
        })
    });

    let start = Action::new_local(move |request: &StartRolloutRequest| {
        let (endpoint, request, navigate) = (data.name(), request.clone(), navigate.clone());
        async move {
            let started = api::start_rollout(&endpoint, &request).await?;
            navigate(
                &format!("/rollouts/{}", started.summary.id),
                NavigateOptions::default(),
            );
            Ok::<RolloutDetail, ApiError>(started)
        }
    });
    let pending = start.pending();
    let answer = start.value();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (request, problems) = checked.get_untracked();
        if problems.is_empty() && !pending.get_untracked() {
            start.dispatch_local(request);
        }
    };
    let blocked = move || {
        let n = problems.with(Vec::len);
        match n {
            0 => String::new(),
            1 => "1 problem to fix first".to_owned(),
            n => format!("{n} problems to fix first"),
        }
    };
    let from = blue.map(|b| b.name).unwrap_or_default();

    view! {
        <form class="card rollout-dialog" role="dialog" aria-labelledby="start-rollout-title"
            data-testid="start-rollout-dialog" on:submit=submit>
            <h2 id="start-rollout-title">"Start a rollout from " {from}</h2>
            <p class="muted">"The rollout runs by itself along the plan; each step that changes traffic or deletes waits for another person's approval."</p>
            <FieldNote problems field="endpoint" />
            <div class="row">
                <label>
                    "New deployment"
                    <input data-testid="rollout-name" autocomplete="off" placeholder="e.g. green" bind:value=name />
                    <FieldNote problems field="deployment.name" />
                </label>
                <AssetSelect label="Model" testid="rollout-model" assets=models value=model optional=None />
                <AssetSelect label="Environment" testid="rollout-environment" assets=environments
                    value=environment optional=Some("None (plain Python)") />
                <label>
                    "Instance type"
                    <input data-testid="rollout-instance-type" bind:value=instance_type />
                    <FieldNote problems field="deployment.instance_type" />
                </label>
                <label>
                    "Instances"
                    <input type="number" min="1" max="50" step="1" class="count" data-testid="rollout-count" bind:value=count />
                    <FieldNote problems field="deployment.instance_count" />
                </label>
            </div>
            <FieldNote problems field="deployment.model" />
            <PlanEditor draft problems=plan_problems />
            <label>
                "Reason (for the approvers and the audit log)"
                <input data-testid="rollout-reason" autocomplete="off" bind:value=reason />
                <FieldNote problems field="reason" />
            </label>
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error testid="rollout-start-error" /> })}
            <div class="actions">
                <button type="submit" data-testid="rollout-start"
                    disabled=move || pending.get() || !problems.with(Vec::is_empty)>
                    {move || if pending.get() { "Starting…" } else { "Start rollout" }}
                </button>
                <button type="button" class="secondary" data-testid="rollout-cancel"
                    on:click=move |_| on_close.run(())>"Cancel"</button>
                <span class="muted" data-testid="rollout-start-blocked">{blocked}</span>
            </div>
        </form>
    }
}
