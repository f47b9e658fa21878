//! The endpoints page: every online endpoint with its state and split, the form for a new one,
//! and what this Greenlight instance is connected to.

use crate::api::{self, ApiError};
use crate::components::list_card::{listing, Empty, ListTable};
use crate::components::traffic_bar::TrafficBar;
use crate::events::use_feed;
use crate::pages::{current_role, SignedIn};
use crate::remote::{ErrorNote, Remote};
use crate::submit::{submit_when_valid, AnswerExt};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use shared::api::{CreateEndpointRequest, EndpointAuthMode, EndpointList};
use shared::Role;

#[component]
pub fn EndpointsPage() -> impl IntoView {
    view! {
        <SignedIn>
            <main class="page">
                <h1>"Online endpoints"</h1>
                <EndpointTable />
                {move || current_role().is_some_and(|r| r.allows(Role::Operator)).then(|| view! { <NewEndpoint /> })}
                <InstanceCard />
            </main>
        </SignedIn>
    }
}

/// The list, reloaded whenever any operation moves (a create or delete changes it).
#[component]
fn EndpointTable() -> impl IntoView {
    let feed = use_feed();
    let list = Remote::<EndpointList>::new();
    Effect::new(move |_| {
        feed.last.track();
        list.load(api::endpoints());
    });
    view! {
        <section class="card" aria-labelledby="endpoints-title">
            <h2 id="endpoints-title">"Endpoints"</h2>
            {listing(list, |list| list.items, Empty("no-endpoints", "No endpoints yet."), |endpoints| view! {
                <ListTable testid="endpoint-table" columns=&["Name", "Auth", "State", "Traffic"] wide="Traffic">
                    {endpoints.into_iter().map(|e| {
                        let name = e.name.clone();
                        view! {
                            <tr data-testid=format!("endpoint-row-{name}")>
                                <th scope="row"><a href=format!("/endpoints/{name}") data-testid=format!("endpoint-link-{name}")>{name.clone()}</a></th>
                                <td data-label="Auth">{e.auth_mode.unwrap_or_default()}</td>
                                <td data-label="State" data-testid=format!("endpoint-state-{name}")>{e.provisioning_state.unwrap_or_default()}</td>
                                <td class="wide"><TrafficBar traffic=e.traffic mirror=e.mirror_traffic /></td>
                            </tr>
                        }
                    }).collect_view()}
                </ListTable>
            }.into_any())}
        </section>
    }
}

/// The form for a new endpoint; the name is checked with Azure's rule as it is typed.
#[component]
fn NewEndpoint() -> impl IntoView {
    let feed = use_feed();
    let navigate = use_navigate();
    let name = RwSignal::new(String::new());
    let auth = RwSignal::new(EndpointAuthMode::Key);
    let description = RwSignal::new(String::new());

    let request = move || CreateEndpointRequest {
        name: name.get().trim().to_owned(),
        auth_mode: auth.get(),
        description: Some(description.get()).filter(|d| !d.trim().is_empty()),
    };
    let problems = Memo::new(move |_| request().check().err().unwrap_or_default());

    // Once the workspace accepts it, the new endpoint's page follows its creation.
    let create = Action::new_local(move |request: &CreateEndpointRequest| {
        let (request, navigate) = (request.clone(), navigate.clone());
        async move {
            let op = api::create_endpoint(&request).await?;
            feed.record(op.clone());
            navigate(
                &format!("/endpoints/{}", request.name),
                NavigateOptions::default(),
            );
            Ok::<_, ApiError>(op)
        }
    });
    let pending = create.pending();
    let answer = create.value();
    let submit = submit_when_valid(create, move || request().check().is_ok(), request);

    view! {
        <form class="card" on:submit=submit aria-labelledby="new-endpoint-title">
            <h2 id="new-endpoint-title">"New endpoint"</h2>
            <div class="row">
                <label>
                    "Name"
                    <input data-testid="new-endpoint-name" autocomplete="off" required
                        placeholder="e.g. credit-scoring" aria-describedby="new-endpoint-problems"
                        bind:value=name />
                </label>
                <label>
                    "Authentication"
                    <select data-testid="new-endpoint-auth"
                        on:change=move |ev| auth.set(if event_target_value(&ev) == "aml_token" {
                            EndpointAuthMode::AmlToken
                        } else {
                            EndpointAuthMode::Key
                        })>
                        <option value="key" selected=true>"Key (does not expire)"</option>
                        <option value="aml_token">"Azure ML token (expires)"</option>
                    </select>
                </label>
                <label class="grow">
                    "Description (optional)"
                    <input data-testid="new-endpoint-description" bind:value=description />
                </label>
            </div>
            <ul id="new-endpoint-problems" class="problems" aria-live="polite">
                {move || (!name.get().is_empty()).then(|| problems.get().into_iter().map(|p| view! {
                    <li class="error" data-testid="new-endpoint-problem">{p.message}</li>
                }).collect_view())}
            </ul>
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            <div class="actions">
                <button type="submit" data-testid="new-endpoint-create"
                    disabled=move || pending.get() || !problems.get().is_empty()>
                    {move || if pending.get() { "Creating…" } else { "Create endpoint" }}
                </button>
            </div>
        </form>
    }
}

/// What this instance is, whether it is healthy and where its local workspace listens.
#[component]
fn InstanceCard() -> impl IntoView {
    let health = LocalResource::new(api::health);
    let about = LocalResource::new(api::about);
    view! {
        <section class="card" aria-labelledby="instance-title">
            <h2 id="instance-title">"This instance"</h2>
            <Suspense fallback=|| view! { <p>"Checking…"</p> }>
                {move || health.get().map(|result| match result {
                    Ok(h) => view! {
                        <p data-testid="health">
                            "Server " {h.status} " · database " {h.database} " · version " {h.version}
                        </p>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error=error /> }.into_any(),
                })}
                {move || about.get().map(|result| match result {
                    Ok(about) => match about.local_workspace {
                        Some(local) => view! {
                            <p data-testid="local-workspace">
                                "Local workspace (Azure ML emulator): ARM API "
                                <code>{local.arm_url}</code>
                                ", scoring "
                                <code>{local.scoring_url}</code>
                            </p>
                        }.into_any(),
                        None => view! { <p>"Connected to Azure ML"</p> }.into_any(),
                    },
                    Err(error) => view! { <ErrorNote error=error /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
