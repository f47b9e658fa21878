//! Change requests and their decisions. Every state change is guarded by the state it was read
//! in (`where state = $from`), records its audit event and publishes the request on the live
//! feed (`event: change_request`) in the same transaction.

use super::operations::publish;
use super::StoreError;
use crate::audit::{self, AuditEvent};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::change_requests::{
    ChangeRequestDetail, ChangeRequestList, ChangeRequestSummary, DecisionView, EndpointPolicy,
};
use shared::api::OperationStatus;
use shared::audit::AuditAction;
use shared::rollout::{Change, ChangeRequestState, TrafficDiff, TrafficSplit, WorkspaceId};
use shared::{EndpointName, Username};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The SSE event name of a change request's updates.
pub const TOPIC: &str = "change_request";

/// A request as it is asked for.
#[derive(Debug, Clone)]
pub struct NewChangeRequest {
    pub workspace: WorkspaceId,
    pub endpoint: EndpointName,
    pub change: Change,
    pub before: TrafficSplit,
    pub requester: Username,
    pub reason: String,
    /// The rollout step that asks, if any.
    pub rollout: Option<(Uuid, u32)>,
    /// Approvals the change needs when more than the endpoint's policy (a plan step's count).
    pub at_least: u32,
}

struct Row {
    id: Uuid,
    workspace: String,
    endpoint: String,
    change: Value,
    before: Value,
    state: String,
    requester: String,
    reason: String,
    required_approvals: i32,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    operation_id: Option<Uuid>,
    stale_found: Option<Value>,
    break_glass_by: Option<String>,
    break_glass_reason: Option<String>,
    rollout_id: Option<Uuid>,
    rollout_step: Option<i32>,
}

struct DecisionRow {
    actor: String,
    decision: String,
    comment: Option<String>,
    at: DateTime<Utc>,
}

fn decode(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(message.into().into())
}

fn detail(row: Row, decisions: Vec<DecisionRow>) -> sqlx::Result<ChangeRequestDetail> {
    let change: Change = serde_json::from_value(row.change).map_err(|e| decode(e.to_string()))?;
    let before: TrafficSplit =
        serde_json::from_value(row.before).map_err(|e| decode(e.to_string()))?;
    let state = ChangeRequestState::parse(&row.state)
        .ok_or_else(|| decode(format!("unknown change request state {}", row.state)))?;
    let name = |text: &str| Username::parse(text).map_err(|e| decode(e.to_string()));
    let view = |d: &DecisionRow| -> sqlx::Result<DecisionView> {
        Ok(DecisionView {
            by: name(&d.actor)?,
            at: d.at,
            comment: d.comment.clone(),
        })
    };
    let approvals = decisions
        .iter()
        .filter(|d| d.decision == "approve")
        .map(view)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let rejection = decisions
        .iter()
        .find(|d| d.decision == "reject")
        .map(view)
        .transpose()?;
    let diff = match &change {
        Change::Traffic { after } => Some(TrafficDiff::between(&before, after)),
        _ => None,
    };
    let stale = row
        .stale_found
        .map(serde_json::from_value::<TrafficSplit>)
        .transpose()
        .map_err(|e| decode(e.to_string()))?
        .map(|found| TrafficDiff::between(&before, &found));
    let break_glass = match (row.break_glass_by, row.decided_at) {
        (Some(by), Some(at)) => Some(DecisionView {
            by: name(&by)?,
            at,
            comment: row.break_glass_reason,
        }),
        _ => None,
    };
    Ok(ChangeRequestDetail {
        summary: ChangeRequestSummary {
            id: row.id,
            workspace: WorkspaceId::parse(&row.workspace).map_err(|e| decode(e.to_string()))?,
            endpoint: row
                .endpoint
                .parse()
                .map_err(|e: shared::NameError| decode(e.to_string()))?,
            change,
            before,
            state,
            requester: name(&row.requester)?,
            reason: row.reason,
            required_approvals: u32::try_from(row.required_approvals).unwrap_or(1),
            approval_count: u32::try_from(approvals.len()).unwrap_or(u32::MAX),
            created_at: row.created_at,
            expires_at: row.expires_at,
            rollout_id: row.rollout_id,
            rollout_step: row.rollout_step.and_then(|s| u32::try_from(s).ok()),
        },
        diff,
        approvals,
        rejection,
        stale,
        break_glass,
        operation_id: row.operation_id,
        decided_at: row.decided_at,
    })
}

/// The request `id` as it is now; `lock` holds its row until the transaction ends, so
/// decisions on one request queue instead of deciding on the same old state.
pub async fn find(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<ChangeRequestDetail>> {
    let row = if lock {
        sqlx::query_as!(
            Row,
            "select id, workspace, endpoint, change, before, state, requester, reason,
                    required_approvals, created_at, expires_at, decided_at, operation_id,
                    stale_found, break_glass_by, break_glass_reason, rollout_id, rollout_step
               from change_requests where id = $1 for update",
            id,
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            Row,
            "select id, workspace, endpoint, change, before, state, requester, reason,
                    required_approvals, created_at, expires_at, decided_at, operation_id,
                    stale_found, break_glass_by, break_glass_reason, rollout_id, rollout_step
               from change_requests where id = $1",
            id,
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    let Some(row) = row else { return Ok(None) };
    let decisions = sqlx::query_as!(
        DecisionRow,
        "select actor, decision, comment, at from change_request_decisions
          where request_id = $1 order by at, actor",
        id,
    )
    .fetch_all(&mut *conn)
    .await?;
    detail(row, decisions).map(Some)
}

/// The request with its decisions, read in one snapshot: its state and approvals agree.
pub async fn get(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<ChangeRequestDetail>> {
    let mut snapshot = super::snapshot(pool).await?;
    find(&mut snapshot, id, false).await
}

/// Which requests a list shows.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub state: Option<ChangeRequestState>,
    pub endpoint: Option<EndpointName>,
    /// Keyset cursor: requests created before this one (newest first).
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

/// Requests newest first; `next` is the cursor of the following page. Read in one snapshot, so
/// each request listed still matches the filter its state was chosen by.
pub async fn list(pool: &PgPool, filter: &ListFilter) -> sqlx::Result<ChangeRequestList> {
    let mut conn = super::snapshot(pool).await?;
    let (after_at, after_id) = filter.after.unzip();
    let ids = sqlx::query!(
        r#"select id, created_at from change_requests
            where ($1::text is null or state = $1)
              and ($2::text is null or lower(endpoint) = lower($2))
              and ($3::timestamptz is null or (created_at, id) < ($3, $4))
            order by created_at desc, id desc
            limit $5"#,
        filter.state.map(ChangeRequestState::as_str),
        filter.endpoint.as_ref().map(EndpointName::as_str),
        after_at,
        after_id,
        filter.limit + 1,
    )
    .fetch_all(&mut *conn)
    .await?;
    let more = ids.len() as i64 > filter.limit;
    let mut items = Vec::with_capacity(ids.len());
    for row in ids.iter().take(filter.limit as usize) {
        if let Some(found) = find(&mut conn, row.id, false).await? {
            items.push(found.summary);
        }
    }
    let next = more
        .then(|| {
            items
                .last()
                .map(|last| format!("{}_{}", last.created_at.timestamp_micros(), last.id))
        })
        .flatten();
    Ok(ChangeRequestList { items, next })
}

/// Parses a `next` cursor of [`list`].
pub fn parse_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = cursor.split_once('_')?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, id.parse().ok()?))
}

/// The approvals an endpoint's changes need: its policy, or the default.
pub async fn policy(
    conn: &mut PgConnection,
    workspace: &WorkspaceId,
    endpoint: &EndpointName,
) -> sqlx::Result<EndpointPolicy> {
    let stored = sqlx::query_scalar!(
        "select required_approvals from endpoint_policies
          where workspace = $1 and lower(endpoint) = lower($2)",
        workspace.as_str(),
        endpoint.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(stored
        .and_then(|n| u32::try_from(n).ok())
        .map(|required_approvals| EndpointPolicy { required_approvals })
        .unwrap_or_default())
}

/// Sets an endpoint's policy (admins), audited with before and after.
pub async fn set_policy(
    pool: &PgPool,
    actor: &str,
    workspace: &WorkspaceId,
    endpoint: &EndpointName,
    policy: EndpointPolicy,
) -> sqlx::Result<EndpointPolicy> {
    let mut tx = pool.begin().await?;
    let before = self::policy(&mut tx, workspace, endpoint).await?;
    sqlx::query!(
        "insert into endpoint_policies (workspace, endpoint, required_approvals, updated_by)
         values ($1, lower($2), $3, $4)
         on conflict (workspace, endpoint) do update
            set required_approvals = excluded.required_approvals,
                updated_by = excluded.updated_by, updated_at = now()",
        workspace.as_str(),
        endpoint.as_str(),
        i32::try_from(policy.required_approvals).unwrap_or(i32::MAX),
        actor,
    )
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        actor,
        AuditAction::PolicyChange,
        endpoint.as_str(),
        json!({ "workspace": workspace, "before": before, "after": policy }),
    )
    .await?;
    tx.commit().await?;
    Ok(policy)
}

/// Stores a new pending request with its endpoint's required approvals, audited.
pub async fn create(pool: &PgPool, new: &NewChangeRequest) -> sqlx::Result<ChangeRequestDetail> {
    let mut tx = pool.begin().await?;
    let created = create_in(&mut tx, new).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`create`] in the caller's transaction (a rollout step records the request's id with it).
pub async fn create_in(
    tx: &mut PgConnection,
    new: &NewChangeRequest,
) -> sqlx::Result<ChangeRequestDetail> {
    let id = insert(tx, new).await?;
    let created = find(tx, id, false).await?.ok_or(sqlx::Error::RowNotFound)?;
    record(
        tx,
        new.requester.as_str(),
        AuditAction::ChangeRequestCreate,
        new.endpoint.as_str(),
        json!({
            "change_request_id": id,
            "workspace": new.workspace,
            "change": new.change,
            "before": new.before,
            "reason": new.reason,
            "required_approvals": created.summary.required_approvals,
            "rollout_id": new.rollout.map(|r| r.0),
        }),
    )
    .await?;
    publish(tx, TOPIC, &created.summary).await?;
    Ok(created)
}

/// Withdraws a still-pending request (a rollout paused or ended), audited.
pub async fn cancel(tx: &mut PgConnection, id: Uuid, actor: &str, why: &str) -> sqlx::Result<()> {
    let found = sqlx::query!(
        "update change_requests set state = 'cancelled', decided_at = now()
          where id = $1 and state = 'pending' returning endpoint",
        id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(found) = found {
        record(
            tx,
            actor,
            AuditAction::ChangeRequestCancel,
            &found.endpoint,
            json!({ "change_request_id": id, "reason": why }),
        )
        .await?;
        announce(tx, id).await?;
    }
    Ok(())
}

/// Inserts a pending request in the caller's transaction; returns its id.
pub async fn insert(tx: &mut PgConnection, new: &NewChangeRequest) -> sqlx::Result<Uuid> {
    let required = policy(tx, &new.workspace, &new.endpoint)
        .await?
        .required_approvals
        .max(new.at_least);
    let (rollout_id, rollout_step) = new.rollout.unzip();
    let id = Uuid::new_v4();
    let now = Utc::now();
    sqlx::query!(
        "insert into change_requests (id, workspace, endpoint, change, before, state, requester,
                                      reason, required_approvals, created_at, expires_at,
                                      rollout_id, rollout_step)
         values ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12)",
        id,
        new.workspace.as_str(),
        new.endpoint.as_str(),
        json!(new.change),
        json!(new.before),
        new.requester.as_str(),
        new.reason,
        i32::try_from(required).unwrap_or(1),
        now,
        shared::rollout::expires_at(now),
        rollout_id,
        rollout_step.map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
    )
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Records `actor`'s approval or rejection of request `id`.
pub async fn decide(
    tx: &mut PgConnection,
    id: Uuid,
    actor: &Username,
    decision: Decision,
    comment: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "insert into change_request_decisions (request_id, actor, decision, comment)
         values ($1, $2, $3, $4)",
        id,
        actor.as_str(),
        decision.as_str(),
        comment,
    )
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)
    .and_then(|done| {
        (done.rows_affected() == 1)
            .then_some(())
            .ok_or(StoreError::NotFound)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
}

/// What else a state change stores.
#[derive(Debug, Default)]
pub struct Transition<'a> {
    pub operation_id: Option<Uuid>,
    pub stale_found: Option<&'a TrafficSplit>,
    pub break_glass: Option<(&'a Username, &'a str)>,
}

/// Moves request `id` from `from` to `to` (a final or `approved` state), storing `extra`.
/// `false` when the request was no longer in `from`.
pub async fn transition(
    tx: &mut PgConnection,
    id: Uuid,
    from: ChangeRequestState,
    to: ChangeRequestState,
    extra: Transition<'_>,
) -> sqlx::Result<bool> {
    let (glass_by, glass_reason) = extra.break_glass.unzip();
    let done = sqlx::query!(
        "update change_requests
            set state = $3, decided_at = coalesce(decided_at, now()),
                operation_id = coalesce($4, operation_id),
                stale_found = coalesce($5, stale_found),
                break_glass_by = coalesce($6, break_glass_by),
                break_glass_reason = coalesce($7, break_glass_reason)
          where id = $1 and state = $2",
        id,
        from.as_str(),
        to.as_str(),
        extra.operation_id,
        extra.stale_found.map(|s| json!(s)),
        glass_by.map(Username::as_str),
        glass_reason,
    )
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Publishes request `id` as it now stands (in the caller's transaction).
pub async fn announce(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<ChangeRequestDetail> {
    let now = find(tx, id, false).await?.ok_or(sqlx::Error::RowNotFound)?;
    publish(tx, TOPIC, &now.summary).await?;
    Ok(now)
}

/// The operation `operation_id` ended: the request it applied becomes `applied` or `failed`,
/// audited, in the transaction that records the operation's end.
pub async fn settle(
    tx: &mut PgConnection,
    operation_id: Uuid,
    status: OperationStatus,
) -> sqlx::Result<()> {
    let found = sqlx::query!(
        "select id, endpoint, requester from change_requests
          where operation_id = $1 and state = 'approved'",
        operation_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else { return Ok(()) };
    let (to, action) = if status == OperationStatus::Succeeded {
        (
            ChangeRequestState::Applied,
            AuditAction::ChangeRequestApplied,
        )
    } else {
        (ChangeRequestState::Failed, AuditAction::ChangeRequestFailed)
    };
    if transition(
        tx,
        found.id,
        ChangeRequestState::Approved,
        to,
        Transition::default(),
    )
    .await?
    {
        record(
            tx,
            &found.requester,
            action,
            &found.endpoint,
            json!({ "change_request_id": found.id, "operation_id": operation_id }),
        )
        .await?;
        announce(tx, found.id).await?;
    }
    Ok(())
}

/// Marks every pending request past its expiry `expired`, audited; returns how many.
pub async fn expire_due(pool: &PgPool) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query!(
        "update change_requests set state = 'expired', decided_at = now()
          where state = 'pending' and expires_at <= now()
          returning id, endpoint, requester",
    )
    .fetch_all(&mut *tx)
    .await?;
    for request in &due {
        record(
            &mut tx,
            crate::bootstrap::SYSTEM_ACTOR,
            AuditAction::ChangeRequestExpire,
            &request.endpoint,
            json!({ "change_request_id": request.id, "requester": request.requester }),
        )
        .await?;
        announce(&mut tx, request.id).await?;
    }
    tx.commit().await?;
    Ok(due.len() as u64)
}

/// Records an audit event about a change request.
pub async fn record(
    tx: &mut PgConnection,
    actor: &str,
    action: AuditAction,
    endpoint: &str,
    details: Value,
) -> sqlx::Result<()> {
    audit::record(
        tx,
        &AuditEvent {
            actor: actor.to_owned(),
            action,
            target: endpoint.to_owned(),
            details,
        },
    )
    .await?;
    Ok(())
}
