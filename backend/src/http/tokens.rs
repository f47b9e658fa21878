//! `/api/v1/tokens`: API tokens for scripts and service accounts. A person creates one with a
//! role no higher than their own and sees its secret once; its owner or an admin revokes it.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::IdPath;
use super::AppState;
use crate::auth::tokens::new_secret;
use crate::auth::{Authenticated, CurrentSession, Person};
use crate::store::tokens::{self as store, NewToken};
use axum::extract::State;
use axum::http::StatusCode;
use shared::api::tokens::{CreateTokenRequest, CreatedToken, TokenInfo, TokenList};
use shared::{ErrorEnvelope, Role};
use uuid::Uuid;

/// Whose tokens the caller may see and revoke: their own, or (an admin) everyone's.
fn owner_filter(session: &CurrentSession) -> Option<Uuid> {
    (session.user.role != Role::Admin).then_some(session.user.id)
}

/// Creates a token acting as the caller. The answer holds its secret: the only time it is shown.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "create_token",
    tag = "tokens",
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "Created; `secret` is shown only now", body = CreatedToken),
        (status = 403, description = "`not_with_token`: a token can't create tokens", body = ErrorEnvelope),
        (status = 409, description = "The caller has an unrevoked token of this name", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule (e.g. `role` above the caller's)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    // A person, not a token: a leaked token must not be able to mint itself successors.
    auth: Authenticated<Person>,
    AppJson(request): AppJson<CreateTokenRequest>,
) -> Result<(StatusCode, AppJson<CreatedToken>), ApiError> {
    let user = &auth.session.user;
    request.check(user.role).map_err(ApiError::rejected)?;
    let (secret, secret_hash) = new_secret();
    let new = NewToken {
        name: &request.name,
        role: request.role,
        days: request.expires_in_days,
        secret_hash: &secret_hash,
    };
    let token = store::create(
        &state.pool,
        user.username.as_str(),
        (user.id, &user.username),
        &new,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(CreatedToken {
            token,
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// The caller's tokens (an admin's: everyone's), newest first, revoked ones too; never a secret.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "list_tokens",
    tag = "tokens",
    responses(
        (status = 200, body = TokenList),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<AppJson<TokenList>, ApiError> {
    let items = store::list(&state.pool, owner_filter(&auth.session)).await?;
    Ok(AppJson(TokenList { items }))
}

/// Revokes a token at once (its owner, or an admin). Revoking a revoked token changes nothing.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revoke_token",
    tag = "tokens",
    params(("id" = Uuid, Path, description = "The token's id")),
    responses(
        (status = 200, description = "Revoked", body = TokenInfo),
        (status = 404, description = "No such token among the caller's", body = ErrorEnvelope),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    IdPath(id): IdPath,
) -> Result<AppJson<TokenInfo>, ApiError> {
    let actor = auth.session.user.username.as_str();
    let token = store::revoke(&state.pool, actor, id, owner_filter(&auth.session)).await?;
    Ok(AppJson(token))
}
