//! Gates in the executor: while a gated mirror or bake step's window runs, judge green against
//! blue every few seconds (`shared::gates::evaluate`) and store the report for the console. A
//! critical metric failing rolls the rollout back at once; at the window's end a pass lets the
//! step finish, a fail rolls back, and a marginal result (or one still inconclusive after the
//! gate's patience) asks an approver — a `PassGate` change request that a person other than
//! the rollout's starter approves to continue, or rejects to roll back. Every decision is
//! audited with the report in the transaction that acts on it.

use super::steps::later;
use super::RolloutError;
use crate::change_requests::{live_split, Context};
use crate::store::change_requests::{self as requests, NewChangeRequest};
use crate::store::rollouts::gates::{self, GateDecision, StoredCheck};
use crate::store::rollouts::{self as store, RolloutRecord, StepRecord};
use chrono::{DateTime, Utc};
use shared::gates::{evaluate, Gate, GateReport, JudgedTraffic, Outcome};
use shared::rollout::{Change, ChangeRequestState, RolloutEvent, RolloutState};
use std::time::Duration;
use uuid::Uuid;

/// How often a gate judges its window while it runs: a failing green is rolled back within
/// this (plus the rollback itself) of the evidence being there.
const JUDGE_EVERY: Duration = Duration::from_secs(5);
/// While an approver decides.
const WAIT: Duration = Duration::from_millis(500);

/// What the step does after its gate looked.
pub(super) enum GateNext {
    /// Look again after this long.
    Wait(Duration),
    /// Green passed, or an approver let it continue: the step may finish.
    Go,
    /// The rollout is rolling back.
    Stop,
}

/// A gated step's window.
pub(super) struct Watch<'a> {
    pub step: &'a StepRecord,
    pub gate: &'a Gate,
    pub since: DateTime<Utc>,
    pub duration: Duration,
    pub traffic: JudgedTraffic,
}

/// One look of the gate at its window (see the module's doc).
pub(super) async fn watch(
    ctx: &Context,
    r: &RolloutRecord,
    w: Watch<'_>,
) -> Result<GateNext, RolloutError> {
    let index = w.step.index;
    let stored = gates::check(&mut *ctx.pool.acquire().await?, r.id, index).await?;
    if let Some(stored) = stored.filter(|s| s.decided) {
        return match stored.change_request_id {
            Some(request) => approver(ctx, r, index, &stored, request).await,
            None if stored.report.judgement.outcome == Outcome::Pass => Ok(GateNext::Go),
            None => Ok(GateNext::Stop),
        };
    }
    let now = Utc::now();
    let end = later(w.since, w.duration);
    let window = ctx
        .workspace
        .window_samples(&r.endpoint, w.since, now)
        .await?;
    let report = evaluate(
        w.gate,
        &window,
        r.old_deployment.as_str(),
        r.new_deployment.as_str(),
        w.traffic,
    );
    let over = now >= end;
    let out_of_patience = now >= later(end, w.gate.patience.0);
    match report.judgement.outcome {
        Outcome::Fail if over || report.failed_critically(w.gate) => {
            roll_back(ctx, r, index, &report, GateDecision::Failed, None).await
        }
        Outcome::Pass if over => {
            let mut tx = store::begin(&ctx.pool, r.id).await?;
            gates::save_check(&mut tx, r, index, &report, true, None).await?;
            gates::record_decision(&mut tx, r, index, GateDecision::Passed, &report, None).await?;
            tx.commit().await?;
            Ok(GateNext::Go)
        }
        Outcome::Marginal if over => ask(ctx, r, index, &report).await,
        Outcome::Inconclusive if out_of_patience => ask(ctx, r, index, &report).await,
        _ => {
            let mut tx = store::begin(&ctx.pool, r.id).await?;
            gates::save_check(&mut tx, r, index, &report, false, None).await?;
            tx.commit().await?;
            let left = (end - now).to_std().unwrap_or(JUDGE_EVERY);
            Ok(GateNext::Wait(
                left.clamp(Duration::from_millis(100), JUDGE_EVERY),
            ))
        }
    }
}

/// Rolls the rollout back because of its gate: the rollback (which restores the known-good
/// split without approval), the decided report and its audit event in one transaction.
async fn roll_back(
    ctx: &Context,
    r: &RolloutRecord,
    index: u32,
    report: &GateReport,
    decision: GateDecision,
    request: Option<Uuid>,
) -> Result<GateNext, RolloutError> {
    let reason = format!("step {}: {}", index + 1, report.summary());
    let mut tx = store::begin(&ctx.pool, r.id).await?;
    if store::move_rollout(
        &mut tx,
        r,
        r.state,
        RolloutEvent::Rollback,
        None,
        Some(&reason),
    )
    .await?
    {
        gates::save_check(&mut tx, r, index, report, true, request).await?;
        gates::record_decision(&mut tx, r, index, decision, report, request).await?;
    }
    tx.commit().await?;
    tracing::info!(rollout = %r.id, step = index, "a gate rolled the rollout back");
    Ok(GateNext::Stop)
}

/// Asks an approver to continue past the gate or roll back.
async fn ask(
    ctx: &Context,
    r: &RolloutRecord,
    index: u32,
    report: &GateReport,
) -> Result<GateNext, RolloutError> {
    let before = live_split(&ctx.workspace, &r.endpoint).await?;
    let new = NewChangeRequest {
        workspace: r.workspace.clone(),
        endpoint: r.endpoint.clone(),
        change: Change::PassGate {
            step: index,
            outcome: report.judgement.outcome,
        },
        before,
        requester: r.started_by.clone(),
        reason: format!(
            "rollout to {}: step {} — {}; approve to continue, reject to roll back",
            r.new_deployment,
            index + 1,
            report.summary()
        ),
        rollout: Some((r.id, index)),
        at_least: 1,
    };
    let mut tx = store::begin(&ctx.pool, r.id).await?;
    let asked = requests::create_in(&mut tx, &new).await?.summary.id;
    gates::save_check(&mut tx, r, index, report, true, Some(asked)).await?;
    gates::record_decision(
        &mut tx,
        r,
        index,
        GateDecision::AskedApprover,
        report,
        Some(asked),
    )
    .await?;
    if r.state == RolloutState::Running {
        store::move_rollout(&mut tx, r, r.state, RolloutEvent::NeedsApproval, None, None).await?;
    }
    tx.commit().await?;
    Ok(GateNext::Wait(WAIT))
}

/// The approver's answer to a gate's request.
async fn approver(
    ctx: &Context,
    r: &RolloutRecord,
    index: u32,
    stored: &StoredCheck,
    request: Uuid,
) -> Result<GateNext, RolloutError> {
    let found = requests::get(&ctx.pool, request)
        .await?
        .ok_or(RolloutError::NotFound)?;
    match found.summary.state {
        ChangeRequestState::Pending | ChangeRequestState::Approved => Ok(GateNext::Wait(WAIT)),
        ChangeRequestState::Applied => {
            if r.state == RolloutState::WaitingForApproval {
                let mut tx = store::begin(&ctx.pool, r.id).await?;
                if store::move_rollout(&mut tx, r, r.state, RolloutEvent::Approved, None, None)
                    .await?
                {
                    gates::record_decision(
                        &mut tx,
                        r,
                        index,
                        GateDecision::Overridden,
                        &stored.report,
                        Some(request),
                    )
                    .await?;
                }
                tx.commit().await?;
            }
            Ok(GateNext::Go)
        }
        // A pause or an abort withdrew it; once resumed, the gate judges again.
        ChangeRequestState::Cancelled => {
            let mut tx = store::begin(&ctx.pool, r.id).await?;
            gates::save_check(&mut tx, r, index, &stored.report, false, None).await?;
            tx.commit().await?;
            Ok(GateNext::Wait(Duration::ZERO))
        }
        ChangeRequestState::Rejected
        | ChangeRequestState::Expired
        | ChangeRequestState::Stale
        | ChangeRequestState::Failed => {
            roll_back(
                ctx,
                r,
                index,
                &stored.report,
                GateDecision::Refused,
                Some(request),
            )
            .await
        }
    }
}

/// The open request a gate of rollout `id`'s step `index` is waiting on, if any: a pause or an
/// end withdraws it with the step's own.
pub(super) async fn open_request(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    index: u32,
) -> Result<Option<Uuid>, RolloutError> {
    Ok(gates::check(conn, id, index)
        .await?
        .and_then(|c| c.change_request_id))
}
