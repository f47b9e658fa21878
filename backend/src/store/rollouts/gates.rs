//! Gate checks: the latest judgement of each gated step, rewritten while its window runs so the
//! console can draw it live, and the approver's request a gate that did not pass by itself
//! asked for. Every write publishes the rollout on the live feed in the caller's transaction.

use super::{announce, db_index, RolloutRecord};
use chrono::{DateTime, Utc};
use serde_json::json;
use shared::api::rollouts::GateCheck;
use shared::gates::GateReport;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A stored judgement of one step's gate.
#[derive(Debug, Clone)]
pub struct StoredCheck {
    pub judged_at: DateTime<Utc>,
    pub decided: bool,
    pub change_request_id: Option<Uuid>,
    pub report: GateReport,
}

impl StoredCheck {
    pub fn view(&self) -> GateCheck {
        GateCheck {
            judged_at: self.judged_at,
            decided: self.decided,
            report: self.report.clone(),
        }
    }
}

/// Stores `report` as step `step`'s latest judgement (replacing the one before), with whether
/// the executor acted on it and the approver's request it opened, if any.
pub async fn save_check(
    tx: &mut PgConnection,
    r: &RolloutRecord,
    step: u32,
    report: &GateReport,
    decided: bool,
    change_request_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into rollout_gate_checks
             (rollout_id, step_index, workspace, endpoint, judged_at, outcome, score, decided,
              change_request_id, report)
         values ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9)
         on conflict (rollout_id, step_index) do update
            set judged_at = now(), outcome = $5, score = $6, decided = $7,
                change_request_id = $8, report = $9",
        r.id,
        db_index(step),
        r.workspace.as_str(),
        r.endpoint.as_str(),
        report.judgement.outcome.as_str(),
        report.judgement.score,
        decided,
        change_request_id,
        json!(report),
    )
    .execute(&mut *tx)
    .await?;
    announce(tx, r.id).await
}

/// Step `step`'s latest judgement, if its gate judged yet.
pub async fn check(
    conn: &mut PgConnection,
    rollout: Uuid,
    step: u32,
) -> sqlx::Result<Option<StoredCheck>> {
    Ok(read(conn, rollout, Some(step)).await?.remove(&step))
}

/// Every gated step's latest judgement, by step index.
pub async fn checks(
    conn: &mut PgConnection,
    rollout: Uuid,
) -> sqlx::Result<BTreeMap<u32, StoredCheck>> {
    read(conn, rollout, None).await
}

/// The judgements of rollout `rollout` (of step `only`, if given: the executor reads one step's
/// every few seconds and need not decode the others' reports). A report this version can't
/// read (a newer version wrote it) is left out rather than failing the whole rollout's view.
async fn read(
    conn: &mut PgConnection,
    rollout: Uuid,
    only: Option<u32>,
) -> sqlx::Result<BTreeMap<u32, StoredCheck>> {
    let rows = sqlx::query!(
        "select step_index, judged_at, decided, change_request_id, report
           from rollout_gate_checks
          where rollout_id = $1 and ($2::integer is null or step_index = $2)",
        rollout,
        only.map(db_index),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut found = BTreeMap::new();
    for row in rows {
        let Ok(report) = serde_json::from_value::<GateReport>(row.report) else {
            tracing::warn!(%rollout, step = row.step_index, "a stored gate report is unreadable");
            continue;
        };
        found.insert(
            u32::try_from(row.step_index).unwrap_or_default(),
            StoredCheck {
                judged_at: row.judged_at,
                decided: row.decided,
                change_request_id: row.change_request_id,
                report,
            },
        );
    }
    Ok(found)
}

/// What a gate decided, as its audit event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDecision {
    /// The window ended and green passed: the rollout goes on.
    Passed,
    /// Green failed: the rollout rolls back.
    Failed,
    /// Neither: an approver is asked to continue or roll back.
    AskedApprover,
    /// The approver let it continue.
    Overridden,
    /// The approver refused (or let the request lapse): the rollout rolls back.
    Refused,
}

/// Audits a gate's decision with its report (without the answers' samples: they hold callers'
/// data), in the caller's transaction.
pub async fn record_decision(
    tx: &mut PgConnection,
    r: &RolloutRecord,
    step: u32,
    decision: GateDecision,
    report: &GateReport,
    change_request_id: Option<Uuid>,
) -> sqlx::Result<()> {
    super::moves::record(
        tx,
        crate::bootstrap::SYSTEM_ACTOR,
        shared::audit::AuditAction::RolloutGate,
        &r.endpoint,
        json!({
            "rollout_id": r.id,
            "workspace": r.workspace,
            "step": step,
            "decision": decision,
            "summary": report.summary(),
            "change_request_id": change_request_id,
            "report": report.clone().without_samples(),
        }),
    )
    .await
}
