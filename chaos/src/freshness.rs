//! The projection's recovery: after a fault, the first tag answered 204 after the
//! component was back is polled in its profile (exactly its cookie and millisecond)
//! until it shows. Recovered means freshness is back under the limit: the tag showed at
//! most the limit (the contract's 10 s) after its 204. A tag that took longer shows the
//! projection was still catching up; the next tag answered after that is probed.

use crate::ledger::Ledger;
use reqwest::Url;
use schemas::contract::{ProfileAnswer, ProfileQuery, TimeRange};
use schemas::{EventTime, UserTag};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Pause between polls of a profile.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// A recovered projection.
#[derive(Debug, Clone, Copy)]
pub struct Fresh {
    /// When the probed tag was answered 204.
    pub accepted: Instant,
    /// When it showed in its profile.
    pub visible: Instant,
}

/// Waits until a tag answered 204 at or after `since` shows in its profile within
/// `limit` of its 204; gives up at `give_up`.
pub async fn fresh_again(
    ledger: &Mutex<Ledger>,
    client: &reqwest::Client,
    base: &Url,
    since: Instant,
    limit: Duration,
    give_up: Instant,
) -> Option<Fresh> {
    let mut since = since;
    while Instant::now() < give_up {
        let candidate = ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .accepted_since(since);
        let Some((tag, accepted)) = candidate else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let visible = visible_at(client, base, &tag, give_up).await?;
        if visible.duration_since(accepted) <= limit {
            return Some(Fresh { accepted, visible });
        }
        tracing::info!(
            took = ?visible.duration_since(accepted),
            "a probed tag showed past the freshness limit; probing a newer one"
        );
        since = Instant::now();
    }
    None
}

/// Polls `tag`'s profile at exactly its time until it holds the tag; when it did.
async fn visible_at(
    client: &reqwest::Client,
    base: &Url,
    tag: &UserTag,
    give_up: Instant,
) -> Option<Instant> {
    let time_range = TimeRange::new(
        tag.time.instant(),
        EventTime::from_millis(tag.time.millis().saturating_add(1)),
    )
    .ok()?;
    let url = ProfileQuery {
        cookie: tag.cookie.clone(),
        time_range,
        limit: None,
    }
    .url(base);
    while Instant::now() < give_up {
        let answer = match client.post(url.clone()).send().await {
            Ok(response) if response.status().is_success() => {
                response.json::<ProfileAnswer<'static>>().await.ok()
            }
            _ => None,
        };
        if answer.is_some_and(|answer| answer.views.contains(tag) || answer.buys.contains(tag)) {
            return Some(Instant::now());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    None
}
