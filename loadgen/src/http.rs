//! HTTP plumbing shared by the load modes: the client, open-loop pacing and posting
//! one tag.

use schemas::UserTag;
use std::time::{Duration, Instant};

/// A client for `pool` concurrent requests, each bounded by `deadline`.
pub fn client(deadline: Duration, pool: usize) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(deadline)
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .build()
}

/// When each request is due: request `n` at `start + n / rate`, or right away when the
/// rate is 0 (flat out). Latency is measured from the due time, so a stalled server
/// cannot hide its queueing (no coordinated omission).
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    started: Instant,
    rate: u32,
}

impl Pacer {
    /// Pacing from now at `rate` per second (0 = flat out).
    pub fn new(rate: u32) -> Self {
        Self {
            started: Instant::now(),
            rate,
        }
    }

    /// Waits until request `n` is due and returns its due time.
    pub async fn due(&self, n: u64) -> Instant {
        if self.rate == 0 {
            return Instant::now();
        }
        let due = self.started + Duration::from_secs_f64(n as f64 / f64::from(self.rate));
        tokio::time::sleep_until(due.into()).await;
        due
    }

    /// Time since pacing began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Posts `tag` to `url` (`.../user_tags`); true when the answer is 204.
pub async fn post_tag(client: &reqwest::Client, url: &str, tag: &UserTag) -> bool {
    let body = tag.to_json_value().to_string();
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    matches!(response, Ok(response) if response.status() == reqwest::StatusCode::NO_CONTENT)
}
