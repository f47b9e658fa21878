//! Rollouts as the API shows them: summary, detail with steps and timeline, history.

use super::{decode, load, parsed, RolloutRecord};
use shared::api::rollouts::{
    RolloutDetail, RolloutList, RolloutStepView, RolloutSummary, TimelineEntry,
};
use shared::rollout::{RolloutState, WorkspaceId};
use shared::{EndpointName, Username};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Everyone who approved one of the rollout's requests, once each, in order of first approval.
async fn approvers(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<Username>> {
    let names = sqlx::query_scalar!(
        r#"select d.actor as "actor!" from change_request_decisions d
             join change_requests r on r.id = d.request_id
            where r.rollout_id = $1 and d.decision = 'approve'
            group by d.actor order by min(d.at)"#,
        id,
    )
    .fetch_all(&mut *conn)
    .await?;
    names
        .iter()
        .map(|n| Username::parse(n).map_err(decode))
        .collect()
}

pub(super) async fn summary_of(
    conn: &mut PgConnection,
    r: &RolloutRecord,
) -> sqlx::Result<RolloutSummary> {
    Ok(RolloutSummary {
        id: r.id,
        workspace: r.workspace.clone(),
        endpoint: r.endpoint.clone(),
        old_deployment: r.old_deployment.clone(),
        new_deployment: r.new_deployment.clone(),
        state: r.state,
        current_step: (!r.state.is_terminal() && r.state != RolloutState::Pending)
            .then_some(r.current_step),
        started_by: r.started_by.clone(),
        approvers: approvers(conn, r.id).await?,
        created_at: r.created_at,
        finished_at: r.finished_at,
    })
}

/// The rollout as `GET /api/v1/rollouts/{id}` shows it, read in one snapshot: its state, steps,
/// requests and timeline always agree.
pub async fn detail(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<RolloutDetail>> {
    let mut conn = crate::store::snapshot(pool).await?;
    let Some(r) = load(&mut conn, id).await? else {
        return Ok(None);
    };
    let summary = summary_of(&mut conn, &r).await?;
    let policy = crate::store::change_requests::policy(&mut conn, &r.workspace, &r.endpoint)
        .await?
        .required_approvals;
    let mut steps = Vec::with_capacity(r.steps.len());
    let mut gate_checks = super::gates::checks(&mut conn, id).await?;
    let mut pending_request = None;
    for (step, plan_step) in r.steps.iter().zip(&r.plan.steps) {
        let gate = gate_checks.remove(&step.index);
        // A gate's request to an approver is the rollout's open request while it waits.
        let gate_request = gate.as_ref().and_then(|g| g.change_request_id);
        if let Some(request_id) = gate_request {
            if let Some(found) =
                crate::store::change_requests::find(&mut conn, request_id, false).await?
            {
                if found.summary.state.is_open() {
                    pending_request = Some(found.summary);
                }
            }
        }
        let request = match step.change_request_id {
            Some(request_id) => {
                crate::store::change_requests::find(&mut conn, request_id, false).await?
            }
            None => None,
        };
        if let Some(found) = &request {
            if found.summary.state.is_open() {
                pending_request = Some(found.summary.clone());
            }
        }
        let arm_operation_id = match step.operation_id {
            Some(op) => crate::store::operations::get(&mut *conn, op)
                .await?
                .and_then(|o| o.arm_operation_id),
            None => None,
        };
        steps.push(RolloutStepView {
            index: step.index,
            step: plan_step.clone(),
            state: step.state,
            required_approvals: crate::rollouts::required_approvals(plan_step, policy),
            change_request_id: step.change_request_id,
            approvers: request
                .map(|r| r.approvals.into_iter().map(|a| a.by).collect())
                .unwrap_or_default(),
            arm_operation_id,
            started_at: step.started_at,
            finished_at: step.finished_at,
            error: step.error.clone(),
            gate: gate.map(|g| g.view()),
        });
    }
    let timeline = sqlx::query!(
        "select at, actor, transition, reason, change_request_id from rollout_timeline
          where rollout_id = $1 order by id",
        id,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|t| {
        Ok(TimelineEntry {
            at: t.at,
            actor: t
                .actor
                .map(|a| Username::parse(&a))
                .transpose()
                .ok()
                .flatten(),
            transition: parsed(t.transition)?,
            reason: t.reason,
            change_request_id: t.change_request_id,
        })
    })
    .collect::<sqlx::Result<Vec<_>>>()?;
    Ok(Some(RolloutDetail {
        summary,
        reason: r.reason,
        plan: r.plan,
        deployment: crate::workspace::new_deployment::masked(&r.deployment),
        known_good: r.known_good,
        steps,
        timeline,
        pending_request,
        held_by_freeze: None,
    }))
}

/// An endpoint's rollouts, newest first (at most `limit`), read in one snapshot.
pub async fn list(
    pool: &PgPool,
    workspace: &WorkspaceId,
    endpoint: &EndpointName,
    limit: i64,
) -> sqlx::Result<RolloutList> {
    let mut conn = crate::store::snapshot(pool).await?;
    let ids = sqlx::query_scalar!(
        "select id from rollouts where workspace = $1 and lower(endpoint) = lower($2)
          order by created_at desc, id desc limit $3",
        workspace.as_str(),
        endpoint.as_str(),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = load(&mut conn, id).await? {
            items.push(summary_of(&mut conn, &r).await?);
        }
    }
    Ok(RolloutList { items, next: None })
}
