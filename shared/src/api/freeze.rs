//! Bodies of `/api/v1/freeze-windows` and `GET /api/v1/endpoints/{endpoint}/freeze`. The
//! request body and the rules are [`crate::freeze`]'s.

use crate::freeze::{Occurrence, Schedule};
use crate::names::EndpointName;
use crate::rollout::WorkspaceId;
use crate::username::Username;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A freeze window, with where it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FreezeWindow {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub workspace: WorkspaceId,
    /// The one endpoint it freezes; every endpoint of the workspace when absent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub endpoint: Option<EndpointName>,
    pub reason: String,
    pub schedule: Schedule,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_by: Username,
    pub created_at: DateTime<Utc>,
    /// The stretch in force now, if any.
    pub active: Option<Occurrence>,
    /// The next stretch to start, if any.
    pub next: Option<Occurrence>,
}

/// `GET /api/v1/freeze-windows`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FreezeWindowList {
    pub items: Vec<FreezeWindow>,
}

/// One window's stretch as an endpoint sees it: which window, why, and from when to when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FreezeNotice {
    pub window_id: Uuid,
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// `GET /api/v1/endpoints/{endpoint}/freeze`: what stops its changes now, and what will next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointFreeze {
    /// The window in force now (the one ending last, if several are); none when not frozen.
    pub active: Option<FreezeNotice>,
    /// The next window to start.
    pub upcoming: Option<FreezeNotice>,
}

impl FreezeNotice {
    /// "Frozen until 2026-12-27 08:00 UTC — year-end freeze", as banners and refusals say it.
    pub fn sentence(&self) -> String {
        format!(
            "Frozen until {} — {}",
            super::clock(self.ends_at),
            self.reason
        )
    }
}
