//! The plan editor of the Start-rollout dialog: the seed's steps, pre-filled, with each share,
//! duration and approval count editable, shift and bake steps to add and steps to drop. Every
//! broken rule shows next to its field as the user types: the dialog checks the plan with the
//! shared rules the server applies and hands each problem here by its field (`steps[3].percent`).

pub mod draft;

use draft::{Draft, Field, Kind};
use leptos::prelude::*;
use shared::FieldError;

/// What a step does, in words.
fn explain(kind: Kind) -> &'static str {
    match kind {
        Kind::Deploy => "Deploy the new deployment at 0 % of the traffic.",
        Kind::SmokeTest => {
            "Send the model's sample request to the new deployment directly; it must answer 200."
        }
        Kind::Mirror => "Copy a share of live requests to the new deployment; clients see only the old one's answers. It sends live data to new code, so it needs at least the endpoint's policy of approvals.",
        Kind::Shift => "Send a share of live traffic to the new deployment, the rest to the old one.",
        Kind::Bake => "Wait with the split as it is, watching the new deployment.",
        Kind::DeleteOld => "Delete the old deployment, once the new one takes all traffic. Can't be undone.",
    }
}

fn title(kind: Kind) -> &'static str {
    match kind {
        Kind::Deploy => "Deploy",
        Kind::SmokeTest => "Smoke test",
        Kind::Mirror => "Mirror",
        Kind::Shift => "Shift live traffic",
        Kind::Bake => "Bake",
        Kind::DeleteOld => "Delete the old deployment",
    }
}

/// The messages of `problems` about `field` exactly.
fn messages(problems: &[FieldError], field: &str) -> Vec<String> {
    problems
        .iter()
        .filter(|p| p.field == field)
        .map(|p| p.message.clone())
        .collect()
}

/// The problems of one field, under it.
#[component]
fn Problems(#[prop(into)] messages: Signal<Vec<String>>, field: Signal<String>) -> impl IntoView {
    move || {
        messages
            .get()
            .into_iter()
            .map(|m| {
                view! { <span class="error field-problem" data-testid="plan-problem" data-field=field.get()>{m}</span> }
            })
            .collect_view()
    }
}

/// One editable number or duration of the step `key`.
#[component]
fn StepInput(
    draft: RwSignal<Draft>,
    problems: Signal<Vec<FieldError>>,
    key: u32,
    field: Field,
    label: &'static str,
) -> impl IntoView {
    let path = Signal::derive(move || {
        let index = draft.with(|d| d.position(key)).unwrap_or_default();
        format!("steps[{index}].{}", field.as_str())
    });
    let mine = Signal::derive(move || problems.with(|p| messages(p, &path.get())));
    let numeric = field != Field::Duration;
    view! {
        <label class="plan-field">
            {label}
            <input data-testid=format!("plan-{}", field.as_str()) autocomplete="off" spellcheck="false"
                class:count=numeric inputmode=if numeric { "numeric" } else { "text" }
                aria-invalid=move || (!mine.with(Vec::is_empty)).to_string()
                prop:value=move || draft.with(|d| d.step(key).map(|s| s.get(field).to_owned()).unwrap_or_default())
                on:input=move |ev| draft.update(|d| d.set(key, field, event_target_value(&ev))) />
            <Problems messages=mine field=path />
        </label>
    }
}

/// Whether the step's gate judges green against blue over its window (the default gate:
/// error rate, latency, prediction agreement; a failing green rolls back by itself). Without
/// traffic a gate can't decide and asks an approver after its patience, so a dry run may turn
/// it off.
#[component]
fn GateToggle(draft: RwSignal<Draft>, key: u32) -> impl IntoView {
    let on = move || draft.with(|d| d.step(key).is_some_and(|s| s.gate.is_some()));
    view! {
        <label class="plan-gate">
            <input type="checkbox" data-testid="plan-gate" prop:checked=on
                on:change=move |ev| {
                    let checked = event_target_checked(&ev);
                    draft.update(|d| d.set_gate(key, checked));
                } />
            " Gate: judge the new deployment against the old one over this step, roll back if it fails"
        </label>
    }
}

/// One step's row.
#[component]
fn StepRow(
    draft: RwSignal<Draft>,
    problems: Signal<Vec<FieldError>>,
    key: u32,
    kind: Kind,
) -> impl IntoView {
    let index = Memo::new(move |_| draft.with(|d| d.position(key)).unwrap_or_default());
    let kind_field = Signal::derive(move || format!("steps[{}].kind", index.get()));
    let row_problems = Signal::derive(move || problems.with(|p| messages(p, &kind_field.get())));
    view! {
        <li class="plan-step" data-testid="plan-step" data-index=move || index.get().to_string()
            data-kind=kind.as_str()>
            <div class="plan-step-head">
                <strong>{move || format!("{}. {}", index.get() + 1, title(kind))}</strong>
                {kind.removable().then(|| view! {
                    <button type="button" class="secondary small" data-testid="plan-remove"
                        aria-label=move || format!("Remove step {}", index.get() + 1)
                        on:click=move |_| draft.update(|d| d.remove(key))>"Remove"</button>
                })}
            </div>
            <p class="muted plan-explain">{explain(kind)}</p>
            <div class="row">
                {kind.has_percent().then(|| view! {
                    <StepInput draft problems key field=Field::Percent label="Share (%)" />
                })}
                {kind.has_duration().then(|| view! {
                    <StepInput draft problems key field=Field::Duration label="Duration (e.g. PT5M, PT30S)" />
                })}
                {kind.has_approvals().then(|| view! {
                    <StepInput draft problems key field=Field::Approvals label="Approvals" />
                })}
            </div>
            {kind.has_duration().then(|| view! { <GateToggle draft key /> })}
            <Problems messages=row_problems field=kind_field />
        </li>
    }
}

/// The editor; `problems` are the plan's broken rules, fields relative to the plan.
#[component]
pub fn PlanEditor(
    draft: RwSignal<Draft>,
    #[prop(into)] problems: Signal<Vec<FieldError>>,
) -> impl IntoView {
    // Problems that belong to no step field: the plan as a whole (`steps`) and anything else.
    let general = Signal::derive(move || {
        problems.with(|p| {
            p.iter()
                .filter(|p| !p.field.starts_with("steps["))
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
        })
    });
    let rows = move || draft.with(|d| d.steps.iter().map(|s| (s.key, s.kind)).collect::<Vec<_>>());
    view! {
        <fieldset class="plan-editor" data-testid="plan-editor">
            <legend>"Plan"</legend>
            <Problems messages=general field=Signal::derive(|| "steps".to_owned()) />
            <ol class="plan-steps">
                <For each=rows key=|(key, _)| *key let:((key, kind))>
                    <StepRow draft problems key kind />
                </For>
            </ol>
            <div class="actions">
                <button type="button" class="secondary small" data-testid="plan-add-shift"
                    on:click=move |_| draft.update(Draft::add_shift)>"Add a shift step"</button>
                <button type="button" class="secondary small" data-testid="plan-add-bake"
                    on:click=move |_| draft.update(Draft::add_bake)>"Add a bake step"</button>
                <button type="button" class="secondary small" data-testid="plan-reset"
                    on:click=move |_| draft.set(Draft::seed())>"Back to the default plan"</button>
            </div>
        </fieldset>
    }
}
