//! The API token routes: the caller's tokens, creating one (its secret comes back once) and
//! revoking one. A submodule of [`crate::api`] so it shares the client's error handling.

use super::{get, write, ApiError, NO_BODY};
use gloo_net::http::Request;
use shared::api::tokens::{CreateTokenRequest, CreatedToken, TokenInfo, TokenList};
use uuid::Uuid;

pub async fn tokens() -> Result<TokenList, ApiError> {
    get("/api/v1/tokens").await
}

pub async fn create_token(request: &CreateTokenRequest) -> Result<CreatedToken, ApiError> {
    write(Request::post("/api/v1/tokens"), Some(request)).await
}

pub async fn revoke_token(id: Uuid) -> Result<TokenInfo, ApiError> {
    write(Request::delete(&format!("/api/v1/tokens/{id}")), NO_BODY).await
}
