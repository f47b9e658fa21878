//! Freeze windows in force: the one check every apply of a change request passes through
//! (`change_requests::apply_in`, inside the approving transaction), what an endpoint's page
//! shows, and what a rollback during a freeze records. The rules are `shared::freeze`'s.

use crate::store::freeze::{self as store, StoredWindow};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::freeze::{EndpointFreeze, FreezeNotice};
use shared::freeze::Occurrence;
use shared::rollout::WorkspaceId;
use shared::EndpointName;
use sqlx::{PgConnection, PgPool};

fn notice(window: &StoredWindow, stretch: Occurrence) -> FreezeNotice {
    FreezeNotice {
        window_id: window.id,
        reason: window.reason.clone(),
        starts_at: stretch.starts_at,
        ends_at: stretch.ends_at,
    }
}

/// The window in force on `endpoint` at `now` (the one ending last), read under the shared
/// freeze lock, which the caller's transaction holds until it ends. A window whose time zone
/// the machine no longer knows fails the check (nothing is applied) rather than passing it.
pub async fn in_force(
    tx: &mut PgConnection,
    workspace: &WorkspaceId,
    endpoint: &EndpointName,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<FreezeNotice>> {
    store::lock_shared(tx, workspace).await?;
    let windows = store::covering_endpoint(tx, workspace, endpoint).await?;
    let mut found: Option<FreezeNotice> = None;
    for window in &windows {
        let covering = window
            .schedule
            .covering(now)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        if let Some(stretch) = covering {
            if found.as_ref().is_none_or(|f| stretch.ends_at > f.ends_at) {
                found = Some(notice(window, stretch));
            }
        }
    }
    Ok(found)
}

/// What `endpoint`'s pages show: the window in force now and the next one to start.
pub async fn status(
    pool: &PgPool,
    workspace: &WorkspaceId,
    endpoint: &EndpointName,
    now: DateTime<Utc>,
) -> sqlx::Result<EndpointFreeze> {
    let mut tx = pool.begin().await?;
    let active = in_force(&mut tx, workspace, endpoint, now).await?;
    let windows = store::covering_endpoint(&mut tx, workspace, endpoint).await?;
    tx.commit().await?;
    let after = active.as_ref().map_or(now, |a| a.ends_at);
    let upcoming = windows
        .iter()
        .filter_map(|w| Some(notice(w, w.schedule.next_after(after).ok()??)))
        .min_by_key(|n| n.starts_at);
    Ok(EndpointFreeze { active, upcoming })
}

/// What an audit event of a change allowed during a freeze (a rollback to the known-good
/// split) records about it: the window, its reason and when it ends.
pub fn during(notice: &FreezeNotice) -> Value {
    json!({
        "freeze_window_id": notice.window_id,
        "reason": notice.reason,
        "ends_at": notice.ends_at,
    })
}
