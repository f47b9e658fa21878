//! A rollout and the freeze windows: while one covers its endpoint a traffic step opens no
//! change request (nobody could approve it) and the rollout waits, shown as held by the window;
//! going back to the known-good split goes ahead and records the window it went through.

use super::RolloutError;
use crate::change_requests::Context;
use crate::store::rollouts::RolloutRecord;
use chrono::Utc;
use serde_json::Value;
use shared::api::freeze::FreezeNotice;
use std::time::Duration;

/// How often a held rollout looks again (a window may be deleted before it ends).
const RECHECK: Duration = Duration::from_secs(2);

async fn notice(ctx: &Context, r: &RolloutRecord) -> Result<Option<FreezeNotice>, RolloutError> {
    let mut tx = ctx.pool.begin().await?;
    let found = crate::freeze::in_force(&mut tx, &r.workspace, &r.endpoint, Utc::now()).await?;
    tx.commit().await?;
    Ok(found)
}

/// How long to wait before looking again, when a window holds the rollout's next change.
pub(super) async fn frozen(
    ctx: &Context,
    r: &RolloutRecord,
) -> Result<Option<Duration>, RolloutError> {
    let Some(notice) = notice(ctx, r).await? else {
        return Ok(None);
    };
    tracing::debug!(rollout = %r.id, window = %notice.window_id, "held by a freeze window");
    let left = (notice.ends_at - Utc::now()).to_std().unwrap_or_default();
    Ok(Some(left.clamp(Duration::from_millis(100), RECHECK)))
}

/// What a restore of the known-good split records about a freeze in force (null when none).
pub(super) async fn during_freeze(ctx: &Context, r: &RolloutRecord) -> Result<Value, RolloutError> {
    Ok(notice(ctx, r)
        .await?
        .map_or(Value::Null, |n| crate::freeze::during(&n)))
}
