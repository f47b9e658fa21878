//! The form for a new deployment, built from the workspace's registered assets. Azure starts
//! every new deployment at 0 % of the traffic; the traffic editor gives it a share later.

use super::use_endpoint;
use crate::api::{self, ApiError};
use crate::components::operation_progress::TrackedOperation;
use crate::events::use_feed;
use crate::remote::{ErrorNote, Remote};
use crate::submit::{started, AnswerExt};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use shared::api::{AssetKind, AssetList, CreateDeploymentRequest};
use std::collections::BTreeMap;

/// A `<select>` of one kind of asset. `optional` adds a first choice that sends nothing.
#[component]
pub(super) fn AssetSelect(
    label: &'static str,
    testid: &'static str,
    assets: Remote<AssetList>,
    value: RwSignal<String>,
    optional: Option<&'static str>,
) -> impl IntoView {
    // Preselect the first asset once they are loaded, unless an empty choice is offered.
    Effect::new(move |_| {
        if optional.is_none() && value.get_untracked().is_empty() {
            if let Some(first) = assets.ok().and_then(|l| l.items.into_iter().next()) {
                value.set(first.reference);
            }
        }
    });
    view! {
        <label>
            {label}
            <select data-testid=testid on:change=move |ev| value.set(event_target_value(&ev))
                prop:value=move || value.get()>
                {optional.map(|text| view! { <option value="">{text}</option> })}
                {move || assets.ok().map(|list| list.items.into_iter().map(|a| {
                    let reference = a.reference.clone();
                    let selected = move || value.get() == reference;
                    view! {
                        <option value=a.reference.clone() selected=selected>
                            {format!("{}:{}", a.name, a.version)}
                        </option>
                    }
                }).collect_view())}
            </select>
            {move || assets.error().map(|error| view! { <ErrorNote error=error /> })}
        </label>
    }
}

/// `NAME=value` lines (blank lines ignored) as the deployment's environment variables, e.g.
/// the faulty demo model's `FAULTY_FAILURE_RATE`.
fn parse_variables(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut variables = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                variables.insert(name.trim().to_owned(), value.trim().to_owned());
            }
            _ => return Err(format!("environment variable {line:?} must be NAME=value")),
        }
    }
    Ok(variables)
}

#[component]
pub fn NewDeployment() -> impl IntoView {
    let data = use_endpoint();
    let feed = use_feed();
    let models = Remote::<AssetList>::new();
    let environments = Remote::<AssetList>::new();
    let codes = Remote::<AssetList>::new();
    models.load(api::assets(AssetKind::Models));
    environments.load(api::assets(AssetKind::Environments));
    codes.load(api::assets(AssetKind::Codes));

    let name = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let environment = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let instance_type = RwSignal::new("Standard_DS3_v2".to_owned());
    let count = RwSignal::new("1".to_owned());
    let variables = RwSignal::new(String::new());

    let request = move || -> Result<CreateDeploymentRequest, String> {
        let count = count
            .get()
            .trim()
            .parse::<i64>()
            .map_err(|_| "instance_count must be a whole number".to_owned())?;
        let environment_variables = variables.with(|v| parse_variables(v))?;
        let optional = |s: String| Some(s).filter(|s| !s.is_empty());
        Ok(CreateDeploymentRequest {
            name: name.get().trim().to_owned(),
            model: model.get(),
            environment: optional(environment.get()),
            code: optional(code.get()),
            scoring_script: None,
            instance_type: instance_type.get().trim().to_owned(),
            instance_count: count,
            environment_variables,
            request_settings: None,
            liveness_probe: None,
            readiness_probe: None,
        })
    };
    // The shared crate's messages, as the server would answer them.
    let problems = Memo::new(move |_| match request() {
        Err(message) => vec![message],
        Ok(request) => request
            .check()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.message)
            .collect(),
    });

    // Accepted, the form is ready for the next one while the operation shows below.
    let create = Action::new_local(move |request: &CreateDeploymentRequest| {
        let (endpoint, request) = (data.name(), request.clone());
        async move {
            let op = api::create_deployment(&endpoint, &request).await?;
            feed.record(op.clone());
            name.set(String::new());
            Ok::<_, ApiError>(op)
        }
    });
    let pending = create.pending();
    let answer = create.value();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Ok(request) = request() else { return };
        if request.check().is_ok() && !pending.get_untracked() {
            create.dispatch_local(request);
        }
    };

    view! {
        <form class="card" on:submit=submit aria-labelledby="new-deployment-title" data-testid="new-deployment">
            <h2 id="new-deployment-title">"New deployment"</h2>
            <p class="muted">"A new deployment starts with 0 % of the traffic: test it directly, then mirror or shift traffic to it."</p>
            <div class="row">
                <label>
                    "Name"
                    <input data-testid="new-deployment-name" autocomplete="off" required
                        placeholder="e.g. green" bind:value=name />
                </label>
                <AssetSelect label="Model" testid="new-deployment-model" assets=models value=model optional=None />
                <AssetSelect label="Environment" testid="new-deployment-environment" assets=environments
                    value=environment optional=Some("None (plain Python)") />
                <AssetSelect label="Code (scoring script)" testid="new-deployment-code" assets=codes
                    value=code optional=Some("Same as the model") />
                <label>
                    "Instance type"
                    <input data-testid="new-deployment-instance-type" required bind:value=instance_type />
                </label>
                <label>
                    "Instances"
                    <input type="number" min="1" max="50" step="1" class="count" data-testid="new-deployment-count"
                        required bind:value=count />
                </label>
            </div>
            <label>
                "Environment variables (optional, one NAME=value a line)"
                <textarea data-testid="new-deployment-variables" rows="2" spellcheck="false"
                    placeholder="FAULTY_FAILURE_RATE=0.3"
                    prop:value=move || variables.get()
                    on:input=move |ev| variables.set(event_target_value(&ev))></textarea>
            </label>
            <ul class="problems" aria-live="polite">
                {move || (!name.get().is_empty()).then(|| problems.get().into_iter().map(|p| view! {
                    <li class="error" data-testid="new-deployment-problem">{p}</li>
                }).collect_view())}
            </ul>
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            <div class="actions">
                <button type="submit" data-testid="new-deployment-create"
                    disabled=move || pending.get() || !problems.get().is_empty()>
                    {move || if pending.get() { "Creating…" } else { "Create deployment" }}
                </button>
            </div>
            <TrackedOperation id=started(answer) />
        </form>
    }
}
