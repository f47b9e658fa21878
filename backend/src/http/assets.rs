//! `/api/v1/assets/{kind}`: the registered models, environments and code a deployment can use.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::Segment;
use super::AppState;
use crate::auth::Authenticated;
use axum::extract::State;
use shared::api::{AssetKind, AssetList, AssetRef, AssetVersion};
use shared::ErrorEnvelope;

/// Every registered version of one kind of asset.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{kind}",
    operation_id = "list_assets",
    tag = "assets",
    params(("kind" = String, Path, description = "`models`, `environments` or `codes`")),
    responses(
        (status = 200, body = AssetList),
        (status = 404, description = "No such kind", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
    Segment(kind): Segment,
) -> Result<AppJson<AssetList>, ApiError> {
    let kind = AssetKind::parse(&kind).ok_or(ApiError::NotFound)?;
    let versions = state.workspace()?.list_assets(kind.as_str()).await?;
    let mut items: Vec<AssetVersion> = versions
        .into_iter()
        .filter_map(|resource| {
            let asset = AssetRef::parse(&resource.id?, kind).ok()?;
            Some(AssetVersion {
                reference: asset.to_string(),
                description: resource.properties["description"]
                    .as_str()
                    .map(str::to_owned),
                name: asset.name,
                version: asset.version,
            })
        })
        .collect();
    items.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(AppJson(AssetList { items }))
}
