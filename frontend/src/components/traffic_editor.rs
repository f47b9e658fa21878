//! The traffic editor: a live and a mirror share per deployment, checked as the user types
//! with the very rules (and words) the server and Azure apply, so a split Azure would refuse
//! can't be sent. Nothing changes at once: **Request change** sends the split with a reason as a
//! change request, which a second person approves (issue 11); the editor then follows that
//! request. The button stays disabled and says why.

use crate::api;
use crate::components::change_request::RequestStatus;
use crate::components::traffic_bar::TrafficBar;
use crate::events::use_feed;
use crate::remote::ErrorNote;
use crate::submit::AnswerExt;
use leptos::prelude::*;
use shared::api::change_requests::TrafficChangeRequest;
use shared::api::{Split, TrafficState};
use shared::rollout::ChangeRequestState;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The shares as typed: text, so a half-typed number is still shown as typed.
type Draft = BTreeMap<String, (String, String)>;

fn draft_of(current: &TrafficState, deployments: &[String]) -> Draft {
    deployments
        .iter()
        .map(|name| {
            let live = current.traffic.get(name).copied().unwrap_or(0);
            let mirror = current.mirror_traffic.get(name).copied().unwrap_or(0);
            (name.clone(), (live.to_string(), mirror.to_string()))
        })
        .collect()
}

/// The draft as a change, or why it is not a whole-number split.
fn parse(draft: &Draft) -> Result<(Split, Split), Vec<String>> {
    let mut problems = Vec::new();
    let mut live = Split::new();
    let mut mirror = Split::new();
    for (name, (l, m)) in draft {
        match l.trim().parse::<i64>() {
            Ok(v) => {
                live.insert(name.clone(), v);
            }
            Err(_) => problems.push(format!("{name}: the live share must be a whole number")),
        }
        match m.trim().parse::<i64>() {
            Ok(0) => {}
            Ok(v) => {
                mirror.insert(name.clone(), v);
            }
            Err(_) => problems.push(format!("{name}: the mirror share must be a whole number")),
        }
    }
    if problems.is_empty() {
        Ok((live, mirror))
    } else {
        Err(problems)
    }
}

#[component]
pub fn TrafficEditor(
    endpoint: String,
    /// The split as the server has it; `None` until loaded.
    #[prop(into)]
    current: Signal<Option<TrafficState>>,
    /// The endpoint's deployments, by name.
    #[prop(into)]
    deployments: Signal<Vec<String>>,
    /// False for viewers: they see the split but can't change it.
    can_edit: bool,
) -> impl IntoView {
    let feed = use_feed();
    let draft = RwSignal::new(Draft::new());
    let dirty = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let apply = Action::new_local(move |change: &TrafficChangeRequest| {
        let (endpoint, change) = (endpoint.clone(), change.clone());
        async move {
            let answer = api::change_traffic(&endpoint, &change).await;
            match &answer {
                Ok(request) => {
                    feed.record_request(request.summary.clone());
                    reason.set(String::new());
                }
                // Someone else changed it: show theirs, and let the user decide again.
                Err(err) => {
                    if let Some(theirs) = err.current.as_deref() {
                        dirty.set(false);
                        draft.set(draft_of(theirs, &deployments.get_untracked()));
                    }
                }
            }
            answer
        }
    });
    let sending = apply.pending();
    let answer = apply.value();
    // The change request the last send made.
    let requested = Signal::derive(move || answer.accepted(|d| d.summary.id));
    let request_state = move || {
        requested
            .get()
            .and_then(|id| feed.request(id))
            .map(|r| r.state)
    };

    // Follow the server's split until the user starts editing; pick up new deployments always.
    Effect::new(move |_| {
        let names = deployments.get();
        let Some(state) = current.get() else { return };
        if dirty.get_untracked() {
            draft.update(|d| {
                d.retain(|name, _| names.contains(name));
                for name in &names {
                    d.entry(name.clone())
                        .or_insert_with(|| ("0".into(), "0".into()));
                }
            });
        } else {
            draft.set(draft_of(&state, &names));
        }
    });
    // When the change we asked for is applied, show the server's split again — once: later
    // events must not throw away what the user has typed since. Refused or stale, the draft
    // stays, to be adjusted and asked again.
    let settled = StoredValue::new(None::<Uuid>);
    Effect::new(move |_| {
        let Some(id) = requested.get() else { return };
        if request_state() == Some(ChangeRequestState::Applied) && settled.get_value() != Some(id) {
            settled.set_value(Some(id));
            dirty.set(false);
            // The page may have the new split already; if not, its reload brings it (above).
            if let Some(state) = current.get_untracked() {
                draft.set(draft_of(&state, &deployments.get_untracked()));
            }
        }
    });

    let parsed = Memo::new(move |_| draft.with(parse));
    // Every problem, in the shared crate's words.
    let problems = Memo::new(move |_| match parsed.get() {
        Err(problems) => problems,
        Ok((live, mirror)) => {
            let names = deployments.get();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            match shared::check_traffic(&live, &mirror, &names) {
                Ok(()) => Vec::new(),
                Err(violations) => violations.into_iter().map(|v| v.message).collect(),
            }
        }
    });
    let waiting = move || request_state().is_some_and(ChangeRequestState::is_open);
    let reason_problem = move || {
        TrafficChangeRequest {
            traffic: Split::new(),
            mirror_traffic: Split::new(),
            version: None,
            reason: reason.get(),
            break_glass: false,
        }
        .check()
        .err()
        .map(|_| "give a reason for the change".to_owned())
    };
    let unchanged = move || match (parsed.get(), current.get()) {
        (Ok((live, mirror)), Some(state)) => {
            shared::traffic_version(&live, &mirror) == state.version
        }
        _ => false,
    };
    // Why the apply button is disabled, if it is.
    let blocked = move || -> Option<String> {
        if current.get().is_none() {
            Some("loading the current split…".into())
        } else if sending.get() {
            Some("sending the change request…".into())
        } else if waiting() {
            Some("your change request is waiting (see Change requests)".into())
        } else if !problems.get().is_empty() {
            Some("fix the split first (see above)".into())
        } else if unchanged() {
            Some("this is the current split".into())
        } else {
            reason_problem()
        }
    };

    let send = move |_| {
        let Ok((traffic, mirror_traffic)) = parsed.get_untracked() else {
            return;
        };
        if !sending.get_untracked() {
            apply.dispatch_local(TrafficChangeRequest {
                traffic,
                mirror_traffic,
                version: current.get_untracked().map(|s| s.version),
                reason: reason.get_untracked().trim().to_owned(),
                break_glass: false,
            });
        }
    };

    // Rows are keyed by the names alone, so typing never rebuilds (and unfocuses) an input.
    let names = Memo::new(move |_| draft.with(|d| d.keys().cloned().collect::<Vec<_>>()));
    let rows = move || {
        names
            .get()
            .into_iter()
            .map(|name| {
                let (n1, n2, n3, n4) = (name.clone(), name.clone(), name.clone(), name.clone());
                let live =
                    move || draft.with(|d| d.get(&n1).map(|v| v.0.clone()).unwrap_or_default());
                let mirror =
                    move || draft.with(|d| d.get(&n2).map(|v| v.1.clone()).unwrap_or_default());
                let set_live = move |ev| {
                    let value = event_target_value(&ev);
                    dirty.set(true);
                    draft.update(|d| {
                        if let Some(v) = d.get_mut(&n3) {
                            v.0 = value
                        }
                    });
                };
                let set_mirror = move |ev| {
                    let value = event_target_value(&ev);
                    dirty.set(true);
                    draft.update(|d| {
                        if let Some(v) = d.get_mut(&n4) {
                            v.1 = value
                        }
                    });
                };
                view! {
                    <tr>
                        <th scope="row">{name.clone()}</th>
                        <td>
                            <input type="number" min="0" max="100" step="1" inputmode="numeric"
                                data-testid=format!("traffic-live-{name}")
                                aria-label=format!("Live traffic to {name}, percent")
                                disabled=!can_edit
                                prop:value=live on:input=set_live />
                            " %"
                        </td>
                        <td>
                            <input type="number" min="0" max="50" step="1" inputmode="numeric"
                                data-testid=format!("traffic-mirror-{name}")
                                aria-label=format!("Mirrored traffic to {name}, percent")
                                disabled=!can_edit
                                prop:value=mirror on:input=set_mirror />
                            " %"
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };

    view! {
        <section class="card" aria-labelledby="traffic-title" data-testid="traffic-editor">
            <h2 id="traffic-title">"Traffic"</h2>
            {move || current.get().map(|state| view! {
                <div data-testid="traffic-current">
                    <TrafficBar traffic=state.traffic mirror=state.mirror_traffic />
                </div>
            })}
            {move || if deployments.with(Vec::is_empty) {
                view! { <p class="muted">"No deployments yet: add one below, then give it traffic."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="split">
                            <thead><tr><th scope="col">"Deployment"</th><th scope="col">"Live"</th><th scope="col">"Mirror"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {move || match parsed.get() {
                Ok((live, mirror)) if dirty.get() => Some(view! {
                    <div class="preview" aria-label="The split you are about to apply">
                        <span class="muted">"New split: "</span>
                        <TrafficBar traffic=live mirror=mirror />
                    </div>
                }),
                _ => None,
            }}
            <ul class="problems" aria-live="polite" data-testid="traffic-problems">
                {move || problems.get().into_iter().map(|p| view! {
                    <li class="error" data-testid="traffic-problem">{p}</li>
                }).collect_view()}
            </ul>
            {can_edit.then(|| view! {
                <label>
                    "Reason (required: the approver reads it)"
                    <input data-testid="traffic-reason" autocomplete="off"
                        placeholder="e.g. shift 10 % to green after a clean bake"
                        bind:value=reason />
                </label>
                <div class="actions">
                    <button type="button" data-testid="traffic-apply"
                        disabled=move || blocked().is_some()
                        aria-describedby="traffic-apply-reason"
                        on:click=send>
                        "Request change"
                    </button>
                    <button type="button" class="secondary" data-testid="traffic-reset"
                        on:click=move |_| {
                            dirty.set(false);
                            if let Some(state) = current.get_untracked() {
                                draft.set(draft_of(&state, &deployments.get_untracked()));
                            }
                        }>
                        "Reset"
                    </button>
                    <span id="traffic-apply-reason" class="muted" data-testid="traffic-apply-reason">
                        {move || blocked().unwrap_or_default()}
                    </span>
                </div>
            })}
            {move || answer.refused(sending).map(|err| view! {
                <div data-testid="traffic-refused">
                    <ErrorNote error=err.clone() />
                    <ul>{err.fields.into_iter().map(|f| view! { <li class="error">{f.message}</li> }).collect_view()}</ul>
                </div>
            })}
            <RequestStatus id=requested what="change" />
        </section>
    }
}
