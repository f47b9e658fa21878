//! Sending deliveries. A worker claims due ones (`FOR UPDATE SKIP LOCKED`, one attempt counted,
//! the due time pushed out by a lease so a worker that dies mid-send leaves it to another after
//! the lease), POSTs each signed body, and records the outcome guarded by the attempt it
//! claimed, so a late worker never overwrites a newer attempt. A 2xx is delivered; anything
//! else is tried again after the next retry delay (with jitter), until the delays run out.

use super::body::render;
use super::sign::{signature, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::secret::Secret;
use rand::Rng;
use serde_json::Value;
use shared::webhooks::WebhookFormat;
use sqlx::PgPool;
use std::time::Duration;

/// A delivery this worker holds, with what sending it needs.
pub struct Claimed {
    pub id: i64,
    /// May carry a chat service's own secret in its path: kept out of `Debug`.
    url: String,
    secret: Secret,
    pub format: String,
    pub event: String,
    pub payload: Value,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed")
            .field("id", &self.id)
            .field("event", &self.event)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Claims up to `limit` due deliveries of enabled webhooks for `lease`.
pub async fn claim(pool: &PgPool, lease: Duration, limit: i64) -> sqlx::Result<Vec<Claimed>> {
    let rows = sqlx::query!(
        "with due as (
             select d.id from webhook_deliveries d join webhooks w on w.id = d.webhook_id
              where d.state = 'pending' and d.next_attempt_at <= now() and w.enabled
              order by d.next_attempt_at
              limit $2
                for update of d skip locked)
         update webhook_deliveries d
            set attempts = d.attempts + 1,
                next_attempt_at = now() + make_interval(secs => $1),
                updated_at = now()
           from due, webhooks w
          where d.id = due.id and w.id = d.webhook_id
      returning d.id, w.url, w.secret, w.format, d.event, d.payload, d.attempts",
        lease.as_secs_f64(),
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Claimed {
            id: row.id,
            url: row.url,
            secret: Secret::new(row.secret),
            format: row.format,
            event: row.event,
            payload: row.payload,
            attempts: row.attempts,
        })
        .collect())
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

/// POSTs `delivery`, signed, and says how it went. The error text names neither the URL nor
/// the secret.
pub async fn send(http: &reqwest::Client, delivery: &Claimed, timeout: Duration) -> Outcome {
    let format = WebhookFormat::parse(&delivery.format).unwrap_or_default();
    let body = render(format, &delivery.payload).to_string().into_bytes();
    let timestamp = chrono::Utc::now().timestamp();
    let signed = signature(delivery.secret.expose().as_bytes(), timestamp, &body);
    let answer = http
        .post(&delivery.url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signed)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(DELIVERY_HEADER, delivery.id.to_string())
        .header(EVENT_HEADER, &delivery.event)
        .body(body)
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Outcome::Delivered {
            status: response.status().as_u16(),
        },
        Ok(response) => Outcome::Failed {
            status: Some(response.status().as_u16()),
            error: format!("the receiver answered {}", response.status()),
        },
        Err(err) => Outcome::Failed {
            status: None,
            error: describe(&err, timeout),
        },
    }
}

/// A few words on why a request got no answer (reqwest's own text quotes the URL).
fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f64())
    } else if err.is_connect() {
        "could not connect to the receiver".into()
    } else if err.is_redirect() {
        "the receiver redirected; redirects are not followed".into()
    } else {
        "the request failed before an answer".into()
    }
}

/// When attempt `attempts` (1-based) failed, how long until the next: the `attempts`-th delay
/// with ±20 % jitter, or `None` when the delays are used up.
pub fn retry_after(delays: &[Duration], attempts: i32) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let delay = delays.get(index)?;
    Some(delay.mul_f64(rand::thread_rng().gen_range(0.8..=1.2)))
}

/// Records how `delivery`'s attempt went, unless someone else claimed it since.
pub async fn record(
    pool: &PgPool,
    delivery: &Claimed,
    outcome: &Outcome,
    delays: &[Duration],
) -> sqlx::Result<()> {
    let (state, status, error, next) = match outcome {
        Outcome::Delivered { status } => ("delivered", Some(*status), None, None),
        Outcome::Failed { status, error } => match retry_after(delays, delivery.attempts) {
            Some(after) => ("pending", *status, Some(error.as_str()), Some(after)),
            None => ("failed", *status, Some(error.as_str()), None),
        },
    };
    sqlx::query!(
        "update webhook_deliveries
            set state = $3, last_status = $4, last_error = $5,
                next_attempt_at = case when $6::float8 is null then null
                                       else now() + make_interval(secs => $6) end,
                updated_at = now()
          where id = $1 and attempts = $2 and state = 'pending'",
        delivery.id,
        delivery.attempts,
        state,
        status.map(i32::from),
        error,
        next.map(|d| d.as_secs_f64()),
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_delays_then_stop() {
        let delays = [Duration::from_secs(5), Duration::from_secs(30)];
        let first = retry_after(&delays, 1).expect("a retry after the first attempt");
        assert!(first >= Duration::from_secs(4) && first <= Duration::from_secs(6));
        let second = retry_after(&delays, 2).expect("a retry after the second");
        assert!(second >= Duration::from_secs(24) && second <= Duration::from_secs(36));
        assert_eq!(retry_after(&delays, 3), None);
        assert_eq!(retry_after(&delays, 0), None);
    }
}
