//! One endpoint: everything a rollout needs on one page. The page loads the endpoint and its
//! deployments once and reloads them whenever the live feed reports an operation on this
//! endpoint — so what another user (or another tab) changes shows up here by itself.

mod change_requests;
mod deployments;
mod header;
mod keys;
mod logs;
mod metrics;
mod new_deployment;
mod rollouts;
mod start_rollout;
mod test_panel;

use crate::api;
use crate::components::operation_progress::{Activity, OperationLine};
use crate::components::traffic_editor::TrafficEditor;
use crate::events::{use_feed, Feed};
use crate::pages::{current_role, SignedIn};
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use shared::api::{
    DeploymentList, DeploymentSummary, EndpointSummary, OperationKind, OperationStatus,
    TrafficState,
};
use shared::Role;

/// What every panel of the endpoint page reads; `Copy`, shared through context.
#[derive(Debug, Clone, Copy)]
pub struct EndpointData {
    pub name: StoredValue<String>,
    pub endpoint: Remote<EndpointSummary>,
    pub deployments: Remote<DeploymentList>,
    /// Ready instances per deployment, as the metrics panel last read them (the local workspace
    /// reports them; on Azure this stays empty and the state stands in).
    pub ready_instances: RwSignal<std::collections::BTreeMap<String, u64>>,
    feed: Feed,
}

impl EndpointData {
    pub fn name(&self) -> String {
        self.name.get_value()
    }

    /// True while the endpoint is being created, or once it is being deleted: then there is
    /// nothing to load (the API would answer 404), only the operation to follow.
    pub fn in_transit(&self) -> bool {
        let name = self.name();
        self.feed
            .of_endpoint_untracked(&name)
            .iter()
            .any(|op| match op.kind {
                OperationKind::EndpointCreate => op.status == OperationStatus::Running,
                OperationKind::EndpointDelete => op.status != OperationStatus::Failed,
                _ => false,
            })
    }

    /// Loads the endpoint and its deployments again.
    pub fn reload(&self) {
        if self.in_transit() {
            return;
        }
        let name = self.name();
        let other = name.clone();
        self.endpoint
            .load(async move { api::endpoint(&name).await });
        self.deployments
            .load(async move { api::deployments(&other).await });
    }

    /// The deployments as last loaded, or none (tracked).
    pub fn deployment_list(&self) -> Vec<DeploymentSummary> {
        self.deployments.ok().map(|l| l.items).unwrap_or_default()
    }

    /// The split as last loaded (tracked).
    pub fn traffic(&self) -> Option<TrafficState> {
        self.endpoint.ok().map(|e| TrafficState {
            traffic: e.traffic,
            mirror_traffic: e.mirror_traffic,
            version: e.traffic_version,
        })
    }
}

pub fn use_endpoint() -> EndpointData {
    expect_context::<EndpointData>()
}

/// True when the signed-in user may change things (tracked).
pub fn is_operator() -> bool {
    current_role().is_some_and(|r| r.allows(Role::Operator))
}

#[component]
pub fn EndpointPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <SignedIn>
            {move || params.get().get("name").map(|name| view! { <EndpointView name=name /> })}
        </SignedIn>
    }
}

#[component]
fn EndpointView(name: String) -> impl IntoView {
    let feed = use_feed();
    let data = EndpointData {
        name: StoredValue::new(name.clone()),
        endpoint: Remote::new(),
        deployments: Remote::new(),
        ready_instances: RwSignal::new(std::collections::BTreeMap::new()),
        feed,
    };
    provide_context(data);
    data.reload();
    // What ran here before the page opened (the feed only brings what happens from now on).
    let for_history = name.clone();
    leptos::task::spawn_local(async move {
        if let Ok(list) = api::operations(&for_history, 12).await {
            for op in list.items {
                feed.record(op);
            }
        }
    });
    let for_feed = name.clone();
    let moved = Memo::new(move |_| feed.activity_of(&for_feed));
    Effect::new(move |first: Option<()>| {
        // Read, not just tracked: a memo never read never subscribes to its sources.
        moved.with(|_| ());
        if first.is_some() {
            data.reload();
        }
    });

    let deployment_names = Memo::new(move |_| {
        data.deployment_list()
            .into_iter()
            .map(|d| d.name)
            .collect::<Vec<_>>()
    });
    let traffic = Signal::derive(move || data.traffic());
    let operator = is_operator();
    view! {
        <main class="page wide">
            <p class="crumbs"><a href="/">"Endpoints"</a> " / " {name.clone()}</p>
            <h1 data-testid="endpoint-name">{name.clone()}</h1>
            <crate::components::freeze_banner::FreezeBanner endpoint=name.clone() />
            {move || {
                let lifecycle: Vec<_> = feed
                    .of_endpoint(&data.name())
                    .into_iter()
                    .filter(|op| matches!(op.kind, OperationKind::EndpointCreate | OperationKind::EndpointDelete)
                        && op.status == OperationStatus::Running)
                    .collect();
                (!lifecycle.is_empty()).then(|| view! {
                    <section class="card" aria-live="polite" data-testid="endpoint-lifecycle">
                        {lifecycle.into_iter().map(|op| view! { <OperationLine op=op /> }).collect_view()}
                    </section>
                })
            }}
            {move || {
                let deleted = feed.of_endpoint(&data.name()).iter().any(|op| {
                    op.kind == OperationKind::EndpointDelete && op.status == OperationStatus::Succeeded
                });
                deleted.then(|| view! {
                    <p class="error" role="alert" data-testid="endpoint-deleted">
                        "This endpoint has been deleted. " <a href="/">"Back to the endpoints"</a>
                    </p>
                })
            }}
            {move || data.endpoint.error().map(|error| view! { <ErrorNote error=error /> })}
            <header::Overview />
            <rollouts::RolloutsPanel />
            <change_requests::ChangeRequestsPanel />
            <deployments::Deployments />
            // Two columns on a wide screen (see style.css), one on a phone.
            <div class="panels">
                <TrafficEditor endpoint=name.clone() current=traffic deployments=deployment_names can_edit=operator />
                {operator.then(|| view! { <test_panel::TestPanel /> })}
                <metrics::Metrics />
                {operator.then(|| view! { <new_deployment::NewDeployment /> })}
                <keys::Keys />
                <logs::Logs />
                <Activity endpoint=name />
            </div>
        </main>
    }
}
