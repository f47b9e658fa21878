//! `AppQuery`: axum's query-string extractor, with rejections in our error envelope.

use super::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::FromRequestParts;

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        // serde's message names the parameter, e.g. "limit: invalid digit found in string".
        ApiError::Validation {
            message: format!("the query string is not valid: {}", rejection.body_text()),
            fields: Vec::new(),
        }
    }
}
