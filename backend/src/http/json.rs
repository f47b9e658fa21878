//! `AppJson`: axum's JSON extractor and response, with rejections in our error envelope.

use super::error::ApiError;
use axum::extract::FromRequest;
use axum::response::{IntoResponse, Response};

#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
