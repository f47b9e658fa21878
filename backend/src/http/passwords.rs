//! Passwords: the signed-in user changes their own (`/session/password`); an admin hands out a
//! one-time password (`/users/{username}/password`).

use super::error::ApiError;
use super::json::AppJson;
use super::paths::UserPath;
use super::AppState;
use crate::auth::{password, sign_in, Admin, Anyone, Authenticated, Reentry};
use crate::secret::Secret;
use crate::store::users;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Extension;
use shared::api::{
    check_new_password, check_password_change, ChangePasswordRequest, ResetPasswordRequest,
    UserInfo,
};
use shared::ErrorEnvelope;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Changes the signed-in user's password. Needs the current one; the user's other sessions
/// end. This is the one write a session with a one-time password may make.
#[utoipa::path(
    put,
    path = "/api/v1/session/password",
    operation_id = "change_password",
    tag = "session",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; other sessions of this user ended"),
        (status = 422, description = "Wrong current password, or the new one breaks a rule", body = ErrorEnvelope),
        (status = 429, description = "Too many wrong passwords", body = ErrorEnvelope),
    )
)]
pub async fn change_own(
    State(state): State<AppState>,
    auth: Authenticated<Anyone>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    AppJson(request): AppJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    check_password_change(&request).map_err(|m| ApiError::invalid("new_password", m))?;
    let client = connect_info.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0 .0.ip());
    let user = &auth.session.user;
    let reentry = sign_in::reenter_password(
        &state.pool,
        &user.username,
        Secret::new(request.current_password),
        client,
        &state.rate_limits,
    )
    .await?;
    match reentry {
        Reentry::Matches => {}
        Reentry::Wrong => {
            return Err(ApiError::invalid(
                "current_password",
                "current_password is not your current password",
            ))
        }
        Reentry::RateLimited { retry_after } => return Err(ApiError::RateLimited(retry_after)),
    }
    let hash = password::hash_blocking(Secret::new(request.new_password)).await?;
    users::change_own_password(&state.pool, user, &auth.session.id_hash, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a one-time password for an account (a forgotten password): its sessions end, and its
/// owner must choose a new password at the next sign-in.
#[utoipa::path(
    put,
    path = "/api/v1/users/{username}/password",
    operation_id = "reset_user_password",
    tag = "users",
    params(UserPath),
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, body = UserInfo),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 404, description = "No such user", body = ErrorEnvelope),
        (status = 422, description = "The password breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    UserPath { username }: UserPath,
    AppJson(request): AppJson<ResetPasswordRequest>,
) -> Result<AppJson<UserInfo>, ApiError> {
    check_new_password(&request.password).map_err(|m| ApiError::invalid("password", m))?;
    let hash = password::hash_blocking(Secret::new(request.password)).await?;
    let actor = auth.session.user.username.as_str();
    let user = users::reset_password(&state.pool, actor, &username, &hash).await?;
    Ok(AppJson(user))
}
