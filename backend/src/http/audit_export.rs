//! `GET /api/v1/audit/export`: every audit event matching the filters, as JSON lines or CSV,
//! streamed from Postgres to the client.
//!
//! A task reads the rows one by one and hands the encoded bytes, in chunks, to the response
//! body through a small bounded channel: a slow client slows the read, and memory stays a few
//! chunks whatever the size of the log. A database error in mid-export ends the body with an
//! error, so the client sees a broken transfer rather than a file that looks complete.

use super::audit_log::filter_of;
use super::error::ApiError;
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
use crate::store;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde::Deserialize;
use shared::api::{AuditEventView, AuditQuery, ExportFormat};
use shared::ErrorEnvelope;
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is handed to the body.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight between the reader and the client.
const CHUNKS_IN_FLIGHT: usize = 4;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `jsonl` (the default) or `csv`.
    format: Option<String>,
}

/// The events matching every filter given, oldest first (the chain's order), as JSON lines
/// (`application/x-ndjson`) or CSV (`text/csv`, a header row, `details` as a JSON column).
#[utoipa::path(
    get,
    path = "/api/v1/audit/export",
    operation_id = "export_audit_events",
    tag = "audit",
    params(ExportQuery, AuditQuery),
    responses(
        (status = 200, description = "The events, streamed", content_type = "application/x-ndjson"),
        (status = 422, description = "A bad `format` or filter", body = ErrorEnvelope),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    _auth: Authenticated,
    AppQuery(query): AppQuery<ExportQuery>,
    AppQuery(filter): AppQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let format = match query.format.as_deref().map(str::trim) {
        None | Some("" | "jsonl") => ExportFormat::Jsonl,
        Some("csv") => ExportFormat::Csv,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("format must be jsonl or csv (got `{other}`)"),
            ))
        }
    };
    let filter = filter_of(&filter)?;
    let (sender, mut receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHUNKS_IN_FLIGHT);
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let mut statement = store::audit::export_query(&filter);
        let mut rows = std::pin::pin!(store::audit::export(&pool, &mut statement));
        let mut chunk = Vec::with_capacity(CHUNK_BYTES + 1024);
        if format == ExportFormat::Csv {
            chunk.extend_from_slice(CSV_HEADER.as_bytes());
        }
        loop {
            match rows.try_next().await {
                Ok(Some(event)) => {
                    encode(format, &event, &mut chunk);
                    if chunk.len() >= CHUNK_BYTES {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_BYTES));
                        if sender.send(Ok(Bytes::from(full))).await.is_err() {
                            return; // The client went away.
                        }
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::error!(error = %err, "the audit export failed while reading");
                    let _ = sender
                        .send(Err(std::io::Error::other("the export failed")))
                        .await;
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = sender.send(Ok(Bytes::from(chunk))).await;
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let (content_type, extension) = match format {
        ExportFormat::Jsonl => ("application/x-ndjson", "jsonl"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"audit.{extension}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

const CSV_HEADER: &str = "id,at,actor,action,target,details\r\n";

/// Appends one event in `format`.
fn encode(format: ExportFormat, event: &AuditEventView, out: &mut Vec<u8>) {
    match format {
        ExportFormat::Jsonl => {
            // A struct of strings, numbers and JSON values always serializes.
            if serde_json::to_writer(&mut *out, event).is_ok() {
                out.push(b'\n');
            }
        }
        ExportFormat::Csv => {
            let fields = [
                event.id.to_string(),
                event
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                event.actor.clone(),
                event.action.clone(),
                event.target.clone(),
                event.details.to_string(),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv_field(field, out);
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
fn csv_field(field: &str, out: &mut Vec<u8>) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(field: &str) -> String {
        let mut out = Vec::new();
        csv_field(field, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv("alice"), "alice");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv(r#"{"k":"v"}"#), r#""{""k"":""v""}""#);
        assert_eq!(csv("two\nlines"), "\"two\nlines\"");
    }
}
