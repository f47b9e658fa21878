//! `Authenticated<R>`: an extractor that admits a request only with a session whose user holds
//! at least role `R`. A handler states its minimum role in its signature, where a reviewer sees it.
//!
//! A session opened with a one-time password is admitted only where `R` is [`Anyone`]: reading
//! the session, changing the password and signing out. Everything else answers 403
//! `password_change_required` until the owner has chosen their own password.
//!
//! A request with an API token arrives with its creator's session-like principal (the token's
//! role, capped by the creator's) and is admitted by the same rule.

use super::session::CurrentSession;
use crate::http::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::Role;
use std::marker::PhantomData;

/// A minimum role, as a type so it can sit in an extractor's signature.
pub trait MinRole: Send + Sync + 'static {
    const ROLE: Role;
    /// Whether a session that must still change its one-time password is admitted.
    const WITH_ONE_TIME_PASSWORD: bool = false;
    /// Whether a request with an API token instead of a session is admitted.
    const WITH_TOKEN: bool = true;
}

/// Any signed-in user whose password is their own.
#[derive(Debug)]
pub struct Signed;
/// Any signed-in user, even one who must still change a one-time password.
#[derive(Debug)]
pub struct Anyone;
/// Any signed-in person whose password is their own: not an API token (minting tokens).
#[derive(Debug)]
pub struct Person;
#[derive(Debug)]
pub struct Operator;
#[derive(Debug)]
pub struct Approver;
#[derive(Debug)]
pub struct Admin;

impl MinRole for Signed {
    const ROLE: Role = Role::Viewer;
}
/// `Anyone` routes are the session's own (reading it, signing out, changing the password): an
/// API token has no session, and must never change its creator's password.
impl MinRole for Anyone {
    const ROLE: Role = Role::Viewer;
    const WITH_ONE_TIME_PASSWORD: bool = true;
    const WITH_TOKEN: bool = false;
}
impl MinRole for Person {
    const ROLE: Role = Role::Viewer;
    const WITH_TOKEN: bool = false;
}
impl MinRole for Operator {
    const ROLE: Role = Role::Operator;
}
impl MinRole for Approver {
    const ROLE: Role = Role::Approver;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// The caller's session, proven to hold at least `R`.
#[derive(Debug)]
pub struct Authenticated<R: MinRole = Signed> {
    pub session: CurrentSession,
    role: PhantomData<R>,
}

impl<S: Send + Sync, R: MinRole> FromRequestParts<S> for Authenticated<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<CurrentSession>()
            .cloned()
            .ok_or(ApiError::Unauthenticated)?;
        if session.token.is_some() && !R::WITH_TOKEN {
            return Err(ApiError::NotWithToken);
        }
        if session.user.must_change_password && !R::WITH_ONE_TIME_PASSWORD {
            return Err(ApiError::PasswordChangeRequired);
        }
        if !session.user.role.allows(R::ROLE) {
            return Err(ApiError::Forbidden(R::ROLE));
        }
        Ok(Self {
            session,
            role: PhantomData,
        })
    }
}
