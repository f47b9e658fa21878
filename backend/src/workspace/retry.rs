//! Retrying throttled and transient failures with jittered exponential backoff, honouring the
//! server's `Retry-After`. 4xx other than 429 are never retried: they will not get better.

use super::error::WorkspaceError;
use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode};
use std::time::Duration;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Limit for one request and its answer.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: base × 2^attempt, capped, times a random 0.5–1.5.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        exponential.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
    }

    /// Sends the request `build` makes, again when it is throttled (429), fails on the server
    /// side (5xx) or cannot connect, at most `max_attempts` times. The last answer is returned
    /// whatever its status; the caller turns error statuses into errors.
    pub async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, WorkspaceError> {
        let mut attempt = 0;
        loop {
            let last = attempt + 1 >= self.max_attempts;
            match build().timeout(self.request_timeout).send().await {
                Ok(response) => {
                    let status = response.status();
                    let transient =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !transient || last {
                        return Ok(response);
                    }
                    let wait = retry_after(&response)
                        .map(|w| w.min(self.max_delay))
                        .unwrap_or_else(|| self.backoff(attempt));
                    tracing::debug!(%status, ?wait, attempt, "workspace request will be retried");
                    tokio::time::sleep(wait).await;
                }
                Err(err) if err.is_timeout() => {
                    if last {
                        return Err(WorkspaceError::Timeout(self.request_timeout));
                    }
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Err(err) => {
                    if last || !(err.is_connect() || err.is_request()) {
                        return Err(WorkspaceError::Transport(without_url(&err)));
                    }
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
            }
            attempt += 1;
        }
    }
}

/// `Retry-After` in seconds, as ARM sends it.
pub fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The error without its URL: URLs may carry query parameters we do not want in messages.
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<workspace>");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let wait = policy.backoff(attempt);
            let nominal = (100u64 << attempt).min(1000);
            assert!(
                wait >= Duration::from_millis(nominal / 2),
                "{attempt}: {wait:?}"
            );
            assert!(
                wait <= Duration::from_millis(nominal * 3 / 2),
                "{attempt}: {wait:?}"
            );
        }
    }
}
