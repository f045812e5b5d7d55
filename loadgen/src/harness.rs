//! `loadgen run`: the checking harness. It sends the seeded stream to `POST /user_tags`
//! at a chosen rate, records every outcome in its [`Model`], and while tags flow asks a
//! profile query every `profile_every` tags and an aggregates query every
//! `aggregate_every` tags, in debug mode (the expected answer is the body), about tags
//! settled for the lag the contract allows (10 s and 60 s, shorter on request). After
//! the stream it waits out the lags and asks a final round over everything; the
//! unfiltered totals of that round also prove no tag answered 204 was lost. Optional
//! freshness probes time a tag's way from its 204 to its profile.
//!
//! [`run_observed`] also reports every outcome as it happens ([`Event`]): a caller that
//! disturbs the platform meanwhile (the chaos runner) learns when each tag and query was
//! answered and how, to time recoveries and to tell which fault a failure belongs to.

use crate::http::{self, Pacer};
use crate::latency::Latencies;
use crate::model::{self, Expected, MinuteTotals, Model, Outcome};
use crate::planner;
use crate::report::{
    Examples, FreshnessReport, HarnessReport, Kind, Mismatch, QueryTally, TagReport,
};
use crate::stream::{Cardinalities, TagStream};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::SeedableRng;
use reqwest::Url;
use schemas::contract::{
    AggregatesAnswer, AggregatesQuery, ProfileAnswer, ProfileQuery, TimeRange,
};
use schemas::{Action, EventTime, UserTag};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How long a freshness probe waits for its tag.
const PROBE_DEADLINE: Duration = Duration::from_secs(30);

/// Pause between a probe's queries. One probe runs at a time, so probing adds at most
/// 20 profile queries/s: the probes must not be the load they measure.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// Most queries in flight at once.
const QUERY_CONCURRENCY: usize = 32;

/// Queries per second in the final round: the contract's profile load (100/s), not a
/// burst the platform is not required to absorb.
const FINAL_ROUND_RATE: u32 = 100;

/// What to run.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// The front door (or any base URL serving the whole API).
    pub base_url: String,
    /// Tags to send (1 ms of event time each).
    pub tags: u64,
    /// Tags per second; 0 = flat out.
    pub rate: u32,
    /// Most tag requests in flight.
    pub concurrency: usize,
    /// Stream seed (also seeds the choice of queries).
    pub seed: u64,
    /// First event time, ms since the epoch.
    pub start_ms: i64,
    /// Client deadline of a tag request (the contract's 200 ms).
    pub tag_deadline: Duration,
    /// Client deadline of a profile query (the contract's 200 ms).
    pub profile_deadline: Duration,
    /// Client deadline of an aggregates query (the contract's 60 s).
    pub aggregate_deadline: Duration,
    /// How long after its 204 a tag must be visible in profiles (the contract's 10 s).
    pub profile_lag: Duration,
    /// How long after its 204 a tag must be counted in aggregates (the contract's 60 s).
    pub aggregate_lag: Duration,
    /// A profile query every this many tags (0 = none).
    pub profile_every: u64,
    /// An aggregates query every this many tags (0 = none).
    pub aggregate_every: u64,
    /// A freshness probe every this many tags, unless one is running (0 = none).
    pub freshness_every: u64,
    /// Cookies sampled for the final round, besides the hot ones.
    pub final_profiles: usize,
    /// The final round checks the aggregates of this much event time before the
    /// stream's end only (`None`: of the whole stream); for a platform whose aggregates
    /// retention is shorter than the run (the soak).
    pub final_aggregates_within: Option<Duration>,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
}

impl HarnessOptions {
    /// The contract's run: its deadlines (200 ms for a tag and a profile, 60 s for
    /// aggregates) and lags (10 s to be in a profile, 60 s to be counted), a profile
    /// query every 10 tags and an aggregates query and a freshness probe every 1,000
    /// (100/s and 1/s at 1,000 tags/s), 256 tags in flight at most, 200 cookies sampled
    /// in the final round, no progress bar. Callers change what their run does otherwise.
    pub fn contract(base_url: String, tags: u64, rate: u32, seed: u64, start_ms: i64) -> Self {
        Self {
            base_url,
            tags,
            rate,
            concurrency: 256,
            seed,
            start_ms,
            tag_deadline: Duration::from_millis(200),
            profile_deadline: Duration::from_millis(200),
            aggregate_deadline: Duration::from_secs(60),
            profile_lag: Duration::from_secs(10),
            aggregate_lag: Duration::from_secs(60),
            profile_every: 10,
            aggregate_every: 1_000,
            freshness_every: 1_000,
            final_profiles: 200,
            final_aggregates_within: None,
            progress: false,
        }
    }
}

/// Why the run could not be made (wrong answers are in the report, not here).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The base URL does not parse.
    #[error("invalid base URL: {0}")]
    BaseUrl(#[from] url::ParseError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// How a checked query went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answered 200 with the expected answer.
    Correct,
    /// Answered 200 with another answer.
    Wrong,
    /// Another status, a transport error, or past the deadline.
    Failed,
}

/// One outcome of a run, reported by [`run_observed`] as it happens.
#[derive(Debug, Clone)]
pub enum Event {
    /// Tag `index` of the stream, due to be sent at `due`, was answered at `answered`:
    /// 204 (`accepted`) or anything else.
    Tag {
        /// Its place in the stream (and its event time's offset from the start, in ms).
        index: usize,
        /// The tag.
        tag: UserTag,
        /// When it was due (open-loop pacing).
        due: Instant,
        /// When its answer came (or its deadline passed).
        answered: Instant,
        /// Whether the answer was 204.
        accepted: bool,
    },
    /// A checked query (one whose expected answer was certain) was answered.
    Query {
        /// Which kind.
        kind: Kind,
        /// When it was sent.
        sent: Instant,
        /// When its answer came.
        answered: Instant,
        /// How it went.
        verdict: Verdict,
        /// The request URL.
        url: String,
        /// A wrong answer's expected and received bodies (JSON), for a closer look.
        difference: Option<(String, String)>,
    },
    /// A freshness probe saw its tag in a profile, `latency` after its 204.
    Fresh {
        /// When it saw it.
        seen: Instant,
        /// From the tag's 204 to the answer showing it.
        latency: Duration,
    },
    /// A final-round unfiltered count of one minute of one action.
    MinuteCounted {
        /// The minute's start.
        minute: EventTime,
        /// The action counted.
        action: Action,
        /// Tags answered 204 in it.
        accepted: u64,
        /// Tags that failed in it (each may or may not be counted).
        uncertain: u64,
        /// What the platform counted.
        counted: u64,
    },
}

/// Everything the tasks share.
struct Shared {
    options: HarnessOptions,
    base: Url,
    tags_url: String,
    client: reqwest::Client,
    query_permits: Semaphore,
    model: Mutex<Model>,
    tag_latency: Mutex<Latencies>,
    profiles: Mutex<QueryTally>,
    aggregates: Mutex<QueryTally>,
    final_profiles: Mutex<QueryTally>,
    final_aggregates: Mutex<QueryTally>,
    examples: Mutex<Examples>,
    freshness: Mutex<Latencies>,
    probes: AtomicU64,
    probing: AtomicBool,
    lost_tags: AtomicU64,
    observer: Option<UnboundedSender<Event>>,
}

/// Locks `mutex`, carrying on with the data if a task panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Reports `event` to the observer, if there is one (a gone observer is no error).
    fn notify(&self, event: impl FnOnce() -> Event) {
        if let Some(observer) = &self.observer {
            let _ = observer.send(event());
        }
    }

    fn query_event(
        &self,
        kind: Kind,
        url: &Url,
        latency: Duration,
        verdict: Verdict,
        difference: Option<(String, String)>,
    ) {
        self.notify(|| {
            let answered = Instant::now();
            Event::Query {
                kind,
                sent: answered.checked_sub(latency).unwrap_or(answered),
                answered,
                verdict,
                url: url.to_string(),
                difference,
            }
        });
    }

    fn tally(&self, kind: Kind) -> &Mutex<QueryTally> {
        match kind {
            Kind::Profile => &self.profiles,
            Kind::Aggregate => &self.aggregates,
            Kind::FinalProfile => &self.final_profiles,
            Kind::FinalAggregate => &self.final_aggregates,
        }
    }

    fn deadline(&self, kind: Kind) -> Duration {
        match kind {
            Kind::Profile | Kind::FinalProfile => self.options.profile_deadline,
            Kind::Aggregate | Kind::FinalAggregate => self.options.aggregate_deadline,
        }
    }

    /// Posts a query with `body` (the expected answer, or nothing) and returns the
    /// parsed answer and its latency; an error or unparseable answer is tallied and
    /// kept as an example.
    async fn post<A: DeserializeOwned>(
        &self,
        kind: Kind,
        url: &Url,
        body: Option<String>,
    ) -> Option<(A, Duration)> {
        let _permit = self.query_permits.acquire().await.ok()?;
        let started = Instant::now();
        let mut request = self.client.post(url.clone()).timeout(self.deadline(kind));
        if let Some(body) = body.clone() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let outcome = match request.send().await {
            Ok(response) if response.status() == reqwest::StatusCode::OK => {
                match response.bytes().await {
                    Ok(bytes) => serde_json::from_slice::<A>(&bytes)
                        .map_err(|error| format!("{error}: {}", String::from_utf8_lossy(&bytes))),
                    Err(error) => Err(error.to_string()),
                }
            }
            Ok(response) => {
                let status = response.status();
                Err(format!(
                    "{status} {}",
                    response.text().await.unwrap_or_default()
                ))
            }
            Err(error) => Err(error.to_string()),
        };
        let latency = started.elapsed();
        match outcome {
            Ok(answer) => Some((answer, latency)),
            Err(problem) => {
                self.query_event(kind, url, latency, Verdict::Failed, None);
                lock(self.tally(kind)).failed();
                lock(&self.examples).keep_failed(Mismatch::new(
                    kind,
                    url.as_str(),
                    body.as_deref().unwrap_or("a 200 answer"),
                    &problem,
                ));
                None
            }
        }
    }

    /// Asks a query whose expected answer is certain, in debug mode, and tallies it.
    async fn check<A>(&self, kind: Kind, url: Url, expected: A)
    where
        A: Serialize + DeserializeOwned + PartialEq,
    {
        let expected_text = serde_json::to_string(&expected).unwrap_or_default();
        let Some((answer, latency)) = self
            .post::<A>(kind, &url, Some(expected_text.clone()))
            .await
        else {
            return;
        };
        let correct = answer == expected;
        lock(self.tally(kind)).answered(correct, latency);
        if correct {
            self.query_event(kind, &url, latency, Verdict::Correct, None);
        } else {
            let got = serde_json::to_string(&answer).unwrap_or_default();
            lock(&self.examples).keep_wrong(Mismatch::new(
                kind,
                url.as_str(),
                &expected_text,
                &got,
            ));
            self.query_event(
                kind,
                &url,
                latency,
                Verdict::Wrong,
                Some((expected_text, got)),
            );
        }
    }

    async fn check_profile(&self, kind: Kind, query: ProfileQuery) {
        let expected = lock(&self.model).profile(&query);
        match expected {
            Expected::Certain(answer) => self.check(kind, query.url(&self.base), answer).await,
            Expected::Uncertain => lock(self.tally(kind)).skipped_uncertain(),
        }
    }

    async fn check_aggregate(&self, kind: Kind, query: AggregatesQuery) {
        let expected = lock(&self.model).aggregate(&query);
        match expected {
            Expected::Certain(answer) => self.check(kind, query.url(&self.base), answer).await,
            Expected::Uncertain => lock(self.tally(kind)).skipped_uncertain(),
        }
    }

    /// A final-round unfiltered aggregates query: exact when certain, and in any case
    /// each minute's count must hold every tag answered 204 (else they are lost) and no
    /// more than the tags sent.
    async fn check_totals(&self, query: AggregatesQuery) {
        let kind = Kind::FinalAggregate;
        let totals = lock(&self.model).minute_totals(&query);
        let certain = totals.iter().all(|minute| minute.uncertain_count == 0);
        let expected = model::aggregates_answer(&query, &totals);
        let expected_text = serde_json::to_string(&expected).unwrap_or_default();
        let url = query.url(&self.base);
        let body = certain.then(|| expected_text.clone());
        let Some((answer, latency)) = self.post::<AggregatesAnswer>(kind, &url, body).await else {
            return;
        };
        let (lost, within_bounds) = compare_totals(&totals, &answer);
        self.lost_tags.fetch_add(lost, Ordering::Relaxed);
        if let Some(counts) = answer
            .numbers("count")
            .filter(|counts| counts.len() == totals.len())
        {
            for (minute, (count, total)) in counts.iter().zip(&totals).enumerate() {
                self.notify(|| Event::MinuteCounted {
                    minute: query.time_range().from().plus_minutes(minute as i64),
                    action: query.action(),
                    accepted: total.accepted_count,
                    uncertain: total.uncertain_count,
                    counted: *count,
                });
            }
        }
        let correct = if certain {
            answer == expected
        } else {
            within_bounds && answer.columns == expected.columns
        };
        lock(self.tally(kind)).answered(correct, latency);
        if correct {
            self.query_event(kind, &url, latency, Verdict::Correct, None);
        } else {
            let got = serde_json::to_string(&answer).unwrap_or_default();
            lock(&self.examples).keep_wrong(Mismatch::new(
                kind,
                url.as_str(),
                &expected_text,
                &got,
            ));
            self.query_event(
                kind,
                &url,
                latency,
                Verdict::Wrong,
                Some((expected_text, got)),
            );
        }
    }

    /// Polls the profile of `tag`'s cookie at exactly its time until the tag shows, and
    /// records the time since its 204. Does nothing while another probe runs.
    async fn probe(&self, tag: UserTag, accepted_at: Instant) {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.probes.fetch_add(1, Ordering::Relaxed);
        self.poll_until_visible(&tag, accepted_at).await;
        self.probing.store(false, Ordering::Release);
    }

    async fn poll_until_visible(&self, tag: &UserTag, accepted_at: Instant) {
        let Ok(time_range) = TimeRange::new(
            tag.time.instant(),
            EventTime::from_millis(tag.time.millis().saturating_add(1)),
        ) else {
            return;
        };
        let query = ProfileQuery {
            cookie: tag.cookie.clone(),
            time_range,
            limit: None,
        };
        let url = query.url(&self.base);
        while accepted_at.elapsed() < PROBE_DEADLINE {
            let response = self
                .client
                .post(url.clone())
                .timeout(self.options.profile_deadline)
                .send()
                .await;
            if let Ok(response) = response {
                if let Ok(answer) = response.json::<ProfileAnswer<'static>>().await {
                    if answer.views.contains(tag) || answer.buys.contains(tag) {
                        let latency = accepted_at.elapsed();
                        lock(&self.freshness).record(latency);
                        self.notify(|| Event::Fresh {
                            seen: Instant::now(),
                            latency,
                        });
                        return;
                    }
                }
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    fn progress_message(&self) -> String {
        let profiles = lock(&self.profiles).report();
        let aggregates = lock(&self.aggregates).report();
        format!(
            "profiles {} ok {} bad | aggregates {} ok {} bad",
            profiles.correct,
            profiles.wrong + profiles.errors,
            aggregates.correct,
            aggregates.wrong + aggregates.errors
        )
    }
}

/// Tags answered 204 missing from `answer`'s counts, and whether every minute's count
/// lies between the accepted tags and the accepted plus the failed ones.
fn compare_totals(totals: &[MinuteTotals], answer: &AggregatesAnswer) -> (u64, bool) {
    let Some(counts) = answer.numbers("count") else {
        return (0, false);
    };
    if counts.len() != totals.len() {
        return (0, false);
    }
    let mut lost = 0;
    let mut within = true;
    for (count, minute) in counts.iter().zip(totals) {
        lost += minute.accepted_count.saturating_sub(*count);
        within &= (minute.accepted_count..=minute.accepted_count + minute.uncertain_count)
            .contains(count);
    }
    (lost, within)
}

/// Runs the stream, the queries and the final round, and reports.
pub async fn run(options: HarnessOptions) -> Result<HarnessReport, HarnessError> {
    run_observed(options, None).await
}

/// [`run`], reporting every outcome to `observer` as it happens (see [`Event`]).
pub async fn run_observed(
    options: HarnessOptions,
    observer: Option<UnboundedSender<Event>>,
) -> Result<HarnessReport, HarnessError> {
    let base = Url::parse(&options.base_url)?;
    let client = http::client(options.tag_deadline, options.concurrency)?;
    let tags_url = format!("{}/user_tags", options.base_url.trim_end_matches('/'));
    let shared = Arc::new(Shared {
        base,
        tags_url,
        client,
        query_permits: Semaphore::new(QUERY_CONCURRENCY),
        model: Mutex::new(Model::new()),
        tag_latency: Mutex::new(Latencies::new()),
        profiles: Mutex::default(),
        aggregates: Mutex::default(),
        final_profiles: Mutex::default(),
        final_aggregates: Mutex::default(),
        examples: Mutex::default(),
        freshness: Mutex::new(Latencies::new()),
        probes: AtomicU64::new(0),
        probing: AtomicBool::new(false),
        lost_tags: AtomicU64::new(0),
        observer,
        options,
    });
    let options = &shared.options;
    let progress = if options.progress {
        ProgressBar::new(options.tags)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} tags {per_sec} {msg}",
    ) {
        progress.set_style(style.progress_chars("=> "));
    }

    let sending = send_stream(&shared, &progress).await;
    let sent_rate = shared_accepted(&shared) as f64 / sending.as_secs_f64().max(f64::EPSILON);

    progress.set_message("waiting out the lags for the final round");
    wait_until_settled(&shared).await;
    progress.set_message("final round");
    final_round(&shared).await;
    progress.finish_and_clear();

    Ok(report(&shared, sent_rate))
}

fn shared_accepted(shared: &Shared) -> u64 {
    lock(&shared.model).outcome_counts().0
}

/// Sends the stream with its queries and probes; returns how long sending took.
async fn send_stream(shared: &Arc<Shared>, progress: &ProgressBar) -> Duration {
    let options = &shared.options;
    let mut stream =
        TagStream::new(options.seed, Cardinalities::default()).starting_at(options.start_ms);
    let mut rng = StdRng::seed_from_u64(options.seed.wrapping_add(1));
    let tag_permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let pacer = Pacer::new(options.rate);
    let mut tasks = JoinSet::new();
    let (mut profile_frontier, mut aggregate_frontier) = (0, 0);
    for sent in 0..options.tags {
        let due = pacer.due(sent).await;
        let Ok(permit) = Arc::clone(&tag_permits).acquire_owned().await else {
            break;
        };
        let Some(tag) = stream.next() else {
            break;
        };
        let index = lock(&shared.model).push(tag.clone());
        let probe = options.freshness_every > 0 && sent % options.freshness_every == 0;
        let task_shared = Arc::clone(shared);
        tasks.spawn(async move {
            let accepted = http::post_tag(&task_shared.client, &task_shared.tags_url, &tag).await;
            let now = Instant::now();
            let outcome = if accepted {
                lock(&task_shared.tag_latency).record(now - due);
                Outcome::Accepted(now)
            } else {
                Outcome::Failed(now)
            };
            lock(&task_shared.model).settle(index, outcome);
            drop(permit);
            task_shared.notify(|| Event::Tag {
                index,
                tag: tag.clone(),
                due,
                answered: now,
                accepted,
            });
            if accepted && probe {
                task_shared.probe(tag, now).await;
            }
        });
        let number = sent + 1;
        if options.profile_every > 0 && number % options.profile_every == 0 {
            let query = {
                let model = lock(&shared.model);
                profile_frontier =
                    model.settled_prefix(profile_frontier, options.profile_lag, Instant::now());
                planner::profile(&model, profile_frontier, &mut rng)
            };
            if let Some(query) = query {
                let task_shared = Arc::clone(shared);
                tasks.spawn(async move { task_shared.check_profile(Kind::Profile, query).await });
            }
        }
        if options.aggregate_every > 0 && number % options.aggregate_every == 0 {
            let query = {
                let model = lock(&shared.model);
                aggregate_frontier =
                    model.settled_prefix(aggregate_frontier, options.aggregate_lag, Instant::now());
                planner::aggregate(&model, aggregate_frontier, &mut rng)
            };
            if let Some(query) = query {
                let task_shared = Arc::clone(shared);
                tasks.spawn(
                    async move { task_shared.check_aggregate(Kind::Aggregate, query).await },
                );
            }
        }
        progress.inc(1);
        if number % 1_000 == 0 {
            progress.set_message(shared.progress_message());
            while tasks.try_join_next().is_some() {}
        }
    }
    let sending = pacer.elapsed();
    while tasks.join_next().await.is_some() {}
    sending
}

/// Waits until every tag has had its answer for the longer of the two lags.
async fn wait_until_settled(shared: &Shared) {
    let lag = shared.options.profile_lag.max(shared.options.aggregate_lag);
    loop {
        let settled = {
            let model = lock(&shared.model);
            model.settled_prefix(0, lag, Instant::now()) == model.len()
        };
        if settled {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The final round, paced at [`FINAL_ROUND_RATE`]: every hot cookie and a sample of
/// others over the whole stream, and the whole stream's minutes in every filter
/// combination.
async fn final_round(shared: &Arc<Shared>) {
    let mut rng = StdRng::seed_from_u64(shared.options.seed.wrapping_add(2));
    let (profiles, aggregates) = {
        let model = lock(&shared.model);
        (
            planner::final_profiles(&model, shared.options.final_profiles, &mut rng),
            planner::final_aggregates(&model, shared.options.final_aggregates_within, &mut rng),
        )
    };
    let mut tasks = JoinSet::new();
    let pacer = Pacer::new(FINAL_ROUND_RATE);
    let mut asked = 0;
    for query in profiles {
        pacer.due(asked).await;
        asked += 1;
        let shared = Arc::clone(shared);
        tasks.spawn(async move { shared.check_profile(Kind::FinalProfile, query).await });
    }
    for query in aggregates {
        pacer.due(asked).await;
        asked += 1;
        let shared = Arc::clone(shared);
        tasks.spawn(async move {
            if query.filters().present().is_empty() {
                shared.check_totals(query).await;
            } else {
                shared.check_aggregate(Kind::FinalAggregate, query).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn report(shared: &Shared, achieved_rate: f64) -> HarnessReport {
    let options = &shared.options;
    let (accepted, failed, span) = {
        let model = lock(&shared.model);
        let (accepted, failed) = model.outcome_counts();
        let span = match (model.tag(0), model.tag(model.len().saturating_sub(1))) {
            (Some(first), Some(last)) => (last.time.millis() - first.time.millis() + 1) as f64,
            _ => 0.0,
        };
        (accepted, failed, span / 1000.0)
    };
    let probes = shared.probes.load(Ordering::Relaxed);
    let freshness = lock(&shared.freshness);
    let mut report = HarnessReport {
        base_url: options.base_url.clone(),
        seed: options.seed,
        stream_start: EventTime::from_millis(options.start_ms).to_instant_string(),
        event_time_seconds: span,
        lags_ms: [
            options.profile_lag.as_millis() as u64,
            options.aggregate_lag.as_millis() as u64,
        ],
        tags: TagReport {
            sent: accepted + failed,
            accepted,
            failed,
            target_rate: options.rate,
            achieved_rate,
            latency: lock(&shared.tag_latency).summary(),
        },
        profiles: lock(&shared.profiles).report(),
        aggregates: lock(&shared.aggregates).report(),
        final_profiles: lock(&shared.final_profiles).report(),
        final_aggregates: lock(&shared.final_aggregates).report(),
        lost_tags: shared.lost_tags.load(Ordering::Relaxed),
        freshness: (options.freshness_every > 0).then(|| FreshnessReport {
            probes,
            visible: freshness.summary().samples,
            latency: freshness.summary(),
        }),
        mismatches: lock(&shared.examples).to_vec(),
        passed: false,
    };
    report.passed = report.verdict().is_ok();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_count_lost_tags_and_allow_failed_ones_either_way() {
        let totals = [
            MinuteTotals {
                accepted_count: 5,
                accepted_sum: 50,
                uncertain_count: 1,
            },
            MinuteTotals {
                accepted_count: 2,
                accepted_sum: 20,
                uncertain_count: 0,
            },
        ];
        let answer = |counts: [&str; 2]| AggregatesAnswer {
            columns: vec!["1m_bucket".into(), "action".into(), "count".into()],
            rows: counts
                .iter()
                .map(|count| vec!["t".to_owned(), "VIEW".to_owned(), (*count).to_owned()])
                .collect(),
        };
        assert_eq!(compare_totals(&totals, &answer(["6", "2"])), (0, true));
        assert_eq!(compare_totals(&totals, &answer(["5", "2"])), (0, true));
        assert_eq!(compare_totals(&totals, &answer(["4", "1"])), (2, false));
        assert_eq!(compare_totals(&totals, &answer(["7", "2"])), (0, false));
    }
}
