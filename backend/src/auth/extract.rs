//! `Authenticated<R>`: an extractor that admits a request only with a session whose user holds
//! at least role `R`. A handler states its minimum role in its signature, where a reviewer sees it.

use super::session::CurrentSession;
use crate::http::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::Role;
use std::marker::PhantomData;

/// A minimum role, as a type so it can sit in an extractor's signature.
pub trait MinRole: Send + Sync + 'static {
    const ROLE: Role;
}

/// Any signed-in user.
#[derive(Debug)]
pub struct Signed;
#[derive(Debug)]
pub struct Operator;
#[derive(Debug)]
pub struct Approver;
#[derive(Debug)]
pub struct Admin;

impl MinRole for Signed {
    const ROLE: Role = Role::Viewer;
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
        if !session.user.role.allows(R::ROLE) {
            return Err(ApiError::Forbidden(R::ROLE));
        }
        Ok(Self {
            session,
            role: PhantomData,
        })
    }
}
