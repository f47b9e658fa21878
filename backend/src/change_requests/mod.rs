//! Asking for a change and deciding on it: no traffic change and no deletion reaches the
//! workspace until people other than its requester approved it (or an admin broke the glass,
//! with a reason). The rules are `shared::rollout`'s; this module applies them to stored
//! requests, and starts the operation that applies an approved request in the very
//! transaction that approves it.

mod apply;

use crate::operations::OperationRunner;
use crate::store::change_requests::{self as store, Decision, NewChangeRequest, Transition};
use crate::store::StoreError;
use crate::workspace::{ArmClient, WorkspaceError};
use chrono::Utc;
use serde_json::json;
use shared::api::change_requests::ChangeRequestDetail;
use shared::api::TrafficState;
use shared::audit::AuditAction;
use shared::rollout::{
    approve, check_break_glass, is_stale, reject, Actor, ApprovalRefused, BreakGlassRefused,
    Change, ChangeRequestState, TrafficSplit, WorkspaceId,
};
use shared::EndpointName;
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// What deciding on a request needs: the store, the operation runner and the workspace.
#[derive(Debug, Clone)]
pub struct Context {
    pub pool: PgPool,
    pub operations: OperationRunner,
    pub workspace: Arc<ArmClient>,
    pub workspace_id: WorkspaceId,
}

/// Why asking or deciding failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    Refused(ApprovalRefused),
    #[error("{0}")]
    BreakGlass(BreakGlassRefused),
    #[error("no such change request")]
    NotFound,
    /// A freeze window covers the endpoint: nothing was applied, and the approval that would
    /// have applied it was not recorded either.
    #[error(
        "{} (freeze window {}); nothing was applied — approve again once it ends",
        .0.sentence(),
        .0.window_id
    )]
    Frozen(shared::api::freeze::FreezeNotice),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
}

impl From<sqlx::Error> for ChangeError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
    }
}

/// A refusal as the caller hears it: a request the sweeper already marked expired is refused
/// as expired, not merely as "not pending".
fn refused(refusal: ApprovalRefused) -> ChangeError {
    ChangeError::Refused(match refusal {
        ApprovalRefused::NotPending(ChangeRequestState::Expired) => ApprovalRefused::Expired,
        other => other,
    })
}

/// The endpoint's live split, as a request's `before` records it.
pub async fn live_split(
    client: &ArmClient,
    endpoint: &EndpointName,
) -> Result<TrafficSplit, WorkspaceError> {
    Ok(TrafficState::of(&client.get_endpoint(endpoint).await?).into())
}

/// Asks for `change` on `endpoint`, whose live split the caller read as `before`. With
/// `break_glass` an admin applies it at once, without approvals; the reason says why.
pub async fn request(
    ctx: &Context,
    requester: &Actor,
    endpoint: &EndpointName,
    change: Change,
    before: TrafficSplit,
    reason: &str,
    break_glass: bool,
) -> Result<ChangeRequestDetail, ChangeError> {
    let new = NewChangeRequest {
        workspace: ctx.workspace_id.clone(),
        endpoint: endpoint.clone(),
        change,
        before,
        requester: requester.username.clone(),
        reason: reason.to_owned(),
        rollout: None,
        at_least: 0,
    };
    if !break_glass {
        return Ok(store::create(&ctx.pool, &new).await?);
    }
    check_break_glass(requester, reason).map_err(ChangeError::BreakGlass)?;
    let mut tx = ctx.pool.begin().await?;
    let id = store::insert(&mut tx, &new).await?;
    store::record(
        &mut tx,
        requester.username.as_str(),
        AuditAction::ChangeRequestBreakGlass,
        endpoint.as_str(),
        json!({
            "change_request_id": id,
            "workspace": new.workspace,
            "change": new.change,
            "before": new.before,
            "reason": reason,
        }),
    )
    .await?;
    let breaker = (&requester.username, reason);
    let applying = Applying {
        id,
        workspace: &new.workspace,
        change: &new.change,
        endpoint,
        before: &new.before,
        requester: &requester.username,
        approvers: &[],
    };
    apply_in(ctx, tx, applying, Some(breaker)).await
}

/// An approved request about to be applied.
struct Applying<'a> {
    id: Uuid,
    workspace: &'a WorkspaceId,
    change: &'a Change,
    endpoint: &'a EndpointName,
    before: &'a TrafficSplit,
    requester: &'a shared::Username,
    approvers: &'a [shared::Username],
}

/// Moves the pending request to `approved` together with the operation that applies it (and
/// the break-glass admin and reason, if any), publishes it, commits `tx`, and only then starts
/// the operation: it exists exactly when the approval does.
///
/// Every apply passes here, so this is where freeze windows are enforced: while one covers the
/// endpoint the whole transaction (the approval or the break-glass request with it) is dropped
/// and the caller hears [`ChangeError::Frozen`]. The check holds the workspace's freeze lock
/// until `tx` ends, so a window set meanwhile is either seen here or set after the commit.
async fn apply_in(
    ctx: &Context,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    applying: Applying<'_>,
    break_glass: Option<(&shared::Username, &str)>,
) -> Result<ChangeRequestDetail, ChangeError> {
    let frozen =
        crate::freeze::in_force(&mut tx, applying.workspace, applying.endpoint, Utc::now()).await?;
    if let Some(notice) = frozen {
        return Err(ChangeError::Frozen(notice));
    }
    let prepared = apply::job(
        ctx,
        applying.id,
        applying.change,
        applying.endpoint,
        applying.before,
        applying.requester,
        applying.approvers,
    );
    let Some(job) = prepared else {
        return pass_gate(tx, applying, break_glass).await;
    };
    let operation = ctx.operations.insert(&mut tx, &job.job).await?;
    store::transition(
        &mut tx,
        applying.id,
        ChangeRequestState::Pending,
        ChangeRequestState::Approved,
        Transition {
            operation_id: Some(operation.id),
            break_glass,
            ..Transition::default()
        },
    )
    .await?;
    let detail = store::announce(&mut tx, applying.id).await?;
    tx.commit().await?;
    job.start(&ctx.operations, operation.id);
    crate::failpoint::hit_after(
        "change-request-operation",
        std::time::Duration::from_millis(700),
    );
    Ok(detail)
}

/// A change with no workspace call (a gate's pass): approving it applies it at once (the rollout's
/// executor sees it applied and lets the rollout continue), audited as any applied request.
async fn pass_gate(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    applying: Applying<'_>,
    break_glass: Option<(&shared::Username, &str)>,
) -> Result<ChangeRequestDetail, ChangeError> {
    let approved = Transition {
        break_glass,
        ..Transition::default()
    };
    use ChangeRequestState as S;
    store::transition(&mut tx, applying.id, S::Pending, S::Approved, approved).await?;
    store::transition(
        &mut tx,
        applying.id,
        S::Approved,
        S::Applied,
        Transition::default(),
    )
    .await?;
    store::record(
        &mut tx,
        applying.requester.as_str(),
        AuditAction::ChangeRequestApplied,
        applying.endpoint.as_str(),
        json!({ "change_request_id": applying.id, "approvers": applying.approvers }),
    )
    .await?;
    let detail = store::announce(&mut tx, applying.id).await?;
    tx.commit().await?;
    Ok(detail)
}

/// `actor` approves request `id`. The last approval it needs applies it, unless the endpoint's
/// live split is no longer the request's `before`: then it is `stale` and nothing changes.
pub async fn approve_request(
    ctx: &Context,
    actor: &Actor,
    id: Uuid,
    comment: Option<&str>,
) -> Result<ChangeRequestDetail, ChangeError> {
    store::expire_due(&ctx.pool).await?;
    let mut tx = ctx.pool.begin().await?;
    let request = store::find(&mut tx, id, true)
        .await?
        .ok_or(ChangeError::NotFound)?;
    let approved = approve(&request.rule_input(), actor, Utc::now()).map_err(refused)?;
    store::decide(&mut tx, id, &actor.username, Decision::Approve, comment).await?;
    let summary = &request.summary;
    store::record(
        &mut tx,
        actor.username.as_str(),
        AuditAction::ChangeRequestApprove,
        summary.endpoint.as_str(),
        json!({
            "change_request_id": id,
            "requester": summary.requester,
            "comment": comment,
            "complete": approved.now_complete,
        }),
    )
    .await?;
    if approved.now_complete {
        let live = live_split(&ctx.workspace, &summary.endpoint).await?;
        if is_stale(&summary.before, &live) {
            store::transition(
                &mut tx,
                id,
                ChangeRequestState::Pending,
                ChangeRequestState::Stale,
                Transition {
                    stale_found: Some(&live),
                    ..Transition::default()
                },
            )
            .await?;
            store::record(
                &mut tx,
                actor.username.as_str(),
                AuditAction::ChangeRequestStale,
                summary.endpoint.as_str(),
                json!({ "change_request_id": id, "before": summary.before, "found": live }),
            )
            .await?;
        } else {
            let mut approvers: Vec<_> = request.approvals.iter().map(|a| a.by.clone()).collect();
            approvers.push(actor.username.clone());
            let applying = Applying {
                id,
                workspace: &summary.workspace,
                change: &summary.change,
                endpoint: &summary.endpoint,
                before: &summary.before,
                requester: &summary.requester,
                approvers: &approvers,
            };
            return apply_in(ctx, tx, applying, None).await;
        }
    }
    let detail = store::announce(&mut tx, id).await?;
    tx.commit().await?;
    Ok(detail)
}

/// `actor` rejects request `id`; one rejection ends it.
pub async fn reject_request(
    ctx: &Context,
    actor: &Actor,
    id: Uuid,
    comment: &str,
) -> Result<ChangeRequestDetail, ChangeError> {
    store::expire_due(&ctx.pool).await?;
    let mut tx = ctx.pool.begin().await?;
    let request = store::find(&mut tx, id, true)
        .await?
        .ok_or(ChangeError::NotFound)?;
    reject(&request.rule_input(), actor, Utc::now()).map_err(refused)?;
    store::decide(
        &mut tx,
        id,
        &actor.username,
        Decision::Reject,
        Some(comment),
    )
    .await?;
    store::transition(
        &mut tx,
        id,
        ChangeRequestState::Pending,
        ChangeRequestState::Rejected,
        Transition::default(),
    )
    .await?;
    store::record(
        &mut tx,
        actor.username.as_str(),
        AuditAction::ChangeRequestReject,
        request.summary.endpoint.as_str(),
        json!({
            "change_request_id": id,
            "requester": request.summary.requester,
            "comment": comment,
        }),
    )
    .await?;
    let detail = store::announce(&mut tx, id).await?;
    tx.commit().await?;
    Ok(detail)
}
