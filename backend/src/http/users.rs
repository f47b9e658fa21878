//! `/api/v1/users`: local accounts (admins only).

use super::error::ApiError;
use super::json::AppJson;
use super::paths::UserPath;
use super::AppState;
use crate::auth::{password, Admin, Authenticated};
use crate::secret::Secret;
use crate::store::users::{self, PasswordOrigin};
use axum::extract::State;
use axum::http::StatusCode;
use shared::api::{
    check_new_password, check_user_update, CreateUserRequest, UpdateUserRequest, UserInfo, UserList,
};
use shared::{ErrorEnvelope, Username};

/// Every local account.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "list_users",
    tag = "users",
    responses(
        (status = 200, body = UserList),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated<Admin>,
) -> Result<AppJson<UserList>, ApiError> {
    Ok(AppJson(UserList {
        items: users::list(&state.pool).await?,
    }))
}

/// Creates a local account. Its password is one-time: the new user changes it at first
/// sign-in.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "create_user",
    tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = UserInfo),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 409, description = "The name is taken", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    AppJson(request): AppJson<CreateUserRequest>,
) -> Result<(StatusCode, AppJson<UserInfo>), ApiError> {
    let username = Username::parse(&request.username)
        .map_err(|e| ApiError::invalid("username", e.to_string()))?;
    check_new_password(&request.password).map_err(|m| ApiError::invalid("password", m))?;
    let hash = password::hash_blocking(Secret::new(request.password)).await?;
    let actor = auth.session.user.username.to_string();
    let user = users::create(
        &state.pool,
        &actor,
        &username,
        request.role,
        &hash,
        PasswordOrigin::OneTime,
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(user)))
}

/// Changes an account's role, or disables it (its sessions end at once) or enables it again.
/// Admins cannot demote or disable themselves, so a team always keeps an admin.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{username}",
    operation_id = "update_user",
    tag = "users",
    params(UserPath),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, body = UserInfo),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 404, description = "No such user", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    UserPath { username }: UserPath,
    AppJson(request): AppJson<UpdateUserRequest>,
) -> Result<AppJson<UserInfo>, ApiError> {
    let actor = &auth.session.user.username;
    check_user_update(actor, &username, &request)
        .map_err(|(field, message)| ApiError::invalid(field, message))?;
    let user = users::update(&state.pool, actor.as_str(), &username, &request).await?;
    Ok(AppJson(user))
}
