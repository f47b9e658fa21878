//! Azure Storage's error answers, one named constructor per error as Azurite keeps them: the
//! status, the `x-ms-error-code` header and the XML body with `Code` and `Message`. Messages
//! never carry a key or a signature.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct StorageError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl StorageError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn blob_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "BlobNotFound",
            "The specified blob does not exist.",
        )
    }

    pub fn blob_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "BlobAlreadyExists",
            "The specified blob already exists.",
        )
    }

    /// A blob whose name is a folder of other blobs, or lies under another blob's name.
    pub fn path_conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "PathConflict",
            "The blob's name clashes with another blob's: the local account keeps blobs as files.",
        )
    }

    pub fn md5_mismatch() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Md5Mismatch",
            "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
        )
    }

    pub fn invalid_block_list() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidBlockList",
            "The specified block list is invalid: it names a block that was not uploaded.",
        )
    }

    pub fn invalid_resource_name(why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!("The specified resource name contains invalid characters: {why}."),
        )
    }

    pub fn invalid_query_parameter(name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidQueryParameterValue",
            format!("Value for one of the query parameters specified in the request URI is invalid: {name}: {why}."),
        )
    }

    pub fn invalid_xml() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidXmlDocument",
            "XML specified is not syntactically valid: a BlockList of Latest, Committed or Uncommitted ids.",
        )
    }

    pub fn unsupported(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("The local workspace's blob service does not implement {what}."),
        )
    }

    pub fn no_authentication() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "NoAuthenticationInformation",
            "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
        )
    }

    /// 403 `AuthenticationFailed`; `detail` says why (Azure's AuthenticationErrorDetail),
    /// never what was presented.
    pub fn authentication_failed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            format!(
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. {}",
                detail.into()
            ),
        )
    }

    pub fn permission_mismatch(needed: char) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AuthorizationPermissionMismatch",
            format!("This request is not authorized to perform this operation using this permission (the SAS lacks '{needed}')."),
        )
    }

    pub fn internal(err: &anyhow::Error) -> Self {
        tracing::error!(error = %format!("{err:#}"), "blob service failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The server encountered an internal error. Please retry the request.",
        )
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            xml_escape(&self.message)
        );
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/xml"));
        headers.insert("x-ms-error-code", HeaderValue::from_static(self.code));
        response
    }
}

pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
