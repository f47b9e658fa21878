//! `GET /metrics`: Greenlight's own health in the Prometheus text format, behind an API token.

use crate::helpers::{spawn_app_with_workspace, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::Role;
use std::collections::BTreeMap;

/// One series: its name and labels.
type Series = (String, BTreeMap<String, String>);

/// Parses the exposition format's series lines (the tests' own small reader).
fn parse(text: &str) -> Vec<(Series, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split("\",")
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            ((name, labels), value)
        })
        .collect()
}

/// The value of `name` with exactly `labels`, if present.
fn value(samples: &[(Series, f64)], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|((n, l), _)| n == name && *l == wanted)
        .map(|(_, v)| *v)
}

async fn scrape(app: &TestApp, secret: &str) -> Vec<(Series, f64)> {
    let response = reqwest::Client::new()
        .get(format!("{}/metrics", app.url))
        .bearer_auth(secret)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&response.text().await.expect("text"))
}

#[tokio::test]
async fn a_token_scrapes_counters_that_moved_and_gauges_that_match_the_database() {
    let (app, _workspace) = spawn_app_with_workspace().await;
    let olga = app.signed_in("olga", Role::Operator).await;
    olga.create_endpoint_with("scraped", &[]).await;
    let (status, request) = olga
        .send(
            Method::DELETE,
            "/api/v1/endpoints/scraped?reason=test%20change",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    let (status, created) = olga
        .send(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "name": "prometheus", "role": "viewer", "expires_in_days": 365 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret");
    // A live-feed subscriber, held open while scraping.
    let stream = olga
        .http
        .get(format!("{}/api/v1/events", app.url))
        .send()
        .await
        .expect("open the live feed");
    assert_eq!(stream.status(), StatusCode::OK);

    let samples = scrape(&app, secret).await;
    let requests = "greenlight_http_requests_total";
    let created_endpoints = [
        ("route", "/api/v1/endpoints"),
        ("method", "POST"),
        ("status", "202"),
    ];
    assert_eq!(value(&samples, requests, &created_endpoints), Some(1.0));
    let deletes = [
        ("route", "/api/v1/endpoints/{endpoint}"),
        ("method", "DELETE"),
        ("status", "202"),
    ];
    assert_eq!(value(&samples, requests, &deletes), Some(1.0));
    let token_created = [
        ("route", "/api/v1/tokens"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(value(&samples, requests, &token_created), Some(1.0));
    // Routes are templates: no endpoint name or id makes its way into a label.
    assert!(
        samples
            .iter()
            .filter(|((name, _), _)| name == requests)
            .all(|((_, labels), _)| !labels["route"].contains("scraped")),
        "{samples:?}"
    );

    assert_eq!(
        value(&samples, "greenlight_change_requests_pending", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "greenlight_sse_subscribers", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "greenlight_rollouts", &[("state", "running")]),
        Some(0.0)
    );
    assert_eq!(
        value(&samples, "greenlight_executor_lag_seconds", &[]),
        Some(0.0)
    );
    let events: i64 = sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(
        value(&samples, "greenlight_audit_chain_length", &[]),
        Some(events as f64)
    );
    assert_eq!(
        value(&samples, "greenlight_audit_chain_broken", &[]),
        Some(0.0)
    );
    let arm_ok = value(
        &samples,
        "greenlight_arm_requests_total",
        &[("status", "200")],
    )
    .expect("ARM calls answered 200");
    let arm_all: f64 = samples
        .iter()
        .filter(|((name, _), _)| name == "greenlight_arm_requests_total")
        .map(|(_, v)| v)
        .sum();
    assert!(arm_ok >= 2.0, "the create and its reads: {arm_ok}");
    assert_eq!(
        value(
            &samples,
            "greenlight_arm_request_duration_seconds_count",
            &[]
        ),
        Some(arm_all)
    );
    assert_eq!(
        value(
            &samples,
            "greenlight_arm_request_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        Some(arm_all)
    );

    // The scrape itself is counted by the next one.
    let again = scrape(&app, secret).await;
    let scrapes = [("route", "/metrics"), ("method", "GET"), ("status", "200")];
    assert_eq!(value(&again, requests, &scrapes), Some(1.0));
    drop(stream);
}

#[tokio::test]
async fn metrics_need_an_api_token_not_a_session() {
    let (app, _workspace) = spawn_app_with_workspace().await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let anonymous = reqwest::Client::new()
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = olga.get("/metrics").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token");
    let refused = reqwest::Client::new()
        .get(format!("{}/metrics", app.url))
        .bearer_auth("glt_unknown")
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}
