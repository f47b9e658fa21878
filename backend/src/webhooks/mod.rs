//! Outgoing webhooks: the notifier every Greenlight process runs. It follows the audit log
//! ([`follow`]) — every webhook event is already audited in the transaction of its change, so
//! nothing needs a "send" call of its own — and sends the deliveries that enqueues
//! ([`deliver`]), signed ([`sign`]), in the body format each webhook asked for ([`body`]).
//! Several replicas share the work through row locks; none sends a delivery twice at once.

pub mod body;
mod deliver;
mod follow;
pub mod sign;

use futures_util::future::join_all;
use sqlx::PgPool;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How deliveries are sent and retried.
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// The wait after each failed attempt; when they run out the delivery has failed. So a
    /// delivery gets `retry_delays.len() + 1` attempts.
    pub retry_delays: Vec<Duration>,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// How often an idle notifier looks for new audit events and due deliveries.
    pub poll: Duration,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        Self {
            retry_delays: DEFAULT_RETRY_DELAYS
                .iter()
                .map(|&s| Duration::from_secs(s))
                .collect(),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
        }
    }
}

/// 5 s, 30 s, 2 min, 10 min, 1 h.
const DEFAULT_RETRY_DELAYS: [u64; 5] = [5, 30, 120, 600, 3600];

/// The most deliveries one round sends at once.
const PARALLEL: i64 = 16;

/// A duration as `--webhook-retry-delays` writes it: a whole number and a unit (`ms`, `s`,
/// `m`, `h`), e.g. `30s` or `2m`.
pub fn parse_delay(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m or h"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} must start with a whole number"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(number.saturating_mul(3600))),
        _ => Err(format!("{text:?}: the unit must be ms, s, m or h")),
    }
}

/// The running notifier.
#[derive(Debug)]
pub struct Notifier {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts following the audit log. `link_base` (`--public-url`) makes deep links absolute.
    pub fn start(
        pool: PgPool,
        settings: NotifierSettings,
        link_base: Option<String>,
    ) -> anyhow::Result<Self> {
        // Its own client: no redirects (a receiver must answer itself), rustls like the rest.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Greenlight-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let stop = CancellationToken::new();
        let worker = Worker {
            pool,
            settings,
            link_base,
            http,
        };
        let task = tokio::spawn(worker.run(stop.clone()));
        Ok(Self { stop, task })
    }

    /// Stops after the round under way; what is pending stays for the next start.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "the webhook notifier ended abnormally");
        }
    }
}

struct Worker {
    pool: PgPool,
    settings: NotifierSettings,
    link_base: Option<String>,
    http: reqwest::Client,
}

impl Worker {
    async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let busy = self.round().await;
            if !busy {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(self.settings.poll) => {}
                }
            }
        }
    }

    /// Follows the log once and sends what is due; whether there was anything to do.
    async fn round(&self) -> bool {
        let read = match follow::step(&self.pool, self.link_base.as_deref()).await {
            Ok(read) => read,
            Err(err) => {
                tracing::warn!(error = %err, "reading the audit log for webhooks failed");
                0
            }
        };
        // A receiver that never answers holds the lease no longer than its timeout and a margin.
        let lease = self.settings.timeout + Duration::from_secs(20);
        let claimed = match deliver::claim(&self.pool, lease, PARALLEL).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "claiming webhook deliveries failed");
                Vec::new()
            }
        };
        let sent = !claimed.is_empty();
        join_all(claimed.iter().map(|delivery| self.send(delivery))).await;
        read > 0 || sent
    }

    async fn send(&self, delivery: &deliver::Claimed) {
        let outcome = deliver::send(&self.http, delivery, self.settings.timeout).await;
        if let deliver::Outcome::Failed { error, .. } = &outcome {
            tracing::info!(delivery = delivery.id, attempt = delivery.attempts, %error, "webhook delivery failed");
        }
        if let Err(err) =
            deliver::record(&self.pool, delivery, &outcome, &self.settings.retry_delays).await
        {
            tracing::warn!(delivery = delivery.id, error = %err, "recording a webhook delivery failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_a_number_and_a_unit() {
        assert_eq!(parse_delay("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_delay("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_delay("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_delay("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_delay("5").is_err());
        assert!(parse_delay("s").is_err());
        assert!(parse_delay("5d").is_err());
    }
}
