//! The audit routes: a filtered page of the log, the hash chain's state, and the export link.
//! A submodule of [`crate::api`] so it shares the client's error handling.

use super::{get, ApiError};
use leptos_router::params::ParamsMap;
use serde_json::Value;
use shared::api::{AuditChainState, AuditPage, AuditQuery, ExportFormat};

/// `query` as URL parameters: only the filters that are set.
pub fn audit_params(query: &AuditQuery) -> ParamsMap {
    match serde_json::to_value(query) {
        Ok(Value::Object(fields)) => fields
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::String(text) => Some((key, text)),
                _ => None,
            })
            .collect(),
        _ => ParamsMap::new(),
    }
}

/// The filters in a page's URL parameters; other parameters are ignored.
pub fn audit_query_of(params: &ParamsMap) -> AuditQuery {
    let fields = params
        .latest_values()
        .map(|(key, value)| (key.to_string(), Value::String(value.to_owned())))
        .collect();
    serde_json::from_value(Value::Object(fields)).unwrap_or_default()
}

/// `/audit` filtered by `query`: where the console's other pages link to.
pub fn audit_page_href(query: &AuditQuery) -> String {
    format!("/audit{}", audit_params(query).to_query_string())
}

/// A page of events matching `query`, newest first; `after` is the previous page's `next`.
pub async fn audit_events(query: &AuditQuery, after: Option<&str>) -> Result<AuditPage, ApiError> {
    let mut params = audit_params(query);
    if let Some(after) = after {
        params.insert("after", after.to_owned());
    }
    get(&format!("/api/v1/audit{}", params.to_query_string())).await
}

pub async fn audit_chain() -> Result<AuditChainState, ApiError> {
    get("/api/v1/audit/chain").await
}

/// The download link of every event matching `query`, in `format`.
pub fn audit_export_href(query: &AuditQuery, format: ExportFormat) -> String {
    let mut params = audit_params(query);
    let format = match format {
        ExportFormat::Jsonl => "jsonl",
        ExportFormat::Csv => "csv",
    };
    params.insert("format", format.to_owned());
    format!("/api/v1/audit/export{}", params.to_query_string())
}
