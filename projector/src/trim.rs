//! Trimming the profile store: each (cookie, action) keeps its newest `keep` tags (the
//! contract's 200) plus a bounded slack; older ones go, so `user_tags` stops growing
//! once every shopper has a full history.
//!
//! How (designed and measured by experiment on ClickHouse 26.9 with concurrent inserts
//! and point reads: a run over about 105,000 doomed rows cost 1.8 s of ClickHouse CPU, against
//! 3.0 s for a plain DELETE and 6.9 s for ALTER ... DELETE): `user_tag_counts` counts every row
//! inserted per pair (a view on `user_tags`), an upper bound of the rows it holds. Every
//! run (two minutes by default, instance 0 only, one run at a time):
//! 1. the pairs counted above `keep + slack` are the candidates;
//! 2. one snapshot of their rows ranks each pair's distinct event times, newest first,
//!    and stores the keys to delete (copies of a replayed tag are one key), with the
//!    rows the pair held: nothing within `recent` (a minute of event time by
//!    default) of the pair's newest tag, and of the older ones all but the newest
//!    `keep`. So a query whose range ends anywhere in that window gets exactly what it
//!    would get with nothing trimmed; without the window, a trim run between a tag and a
//!    query a few seconds behind it took the query's oldest answers away (seen in the
//!    end-to-end test: 72 of 12,500 answers short);
//! 3. those keys are deleted as a patch part (a lightweight update of the row mask: its
//!    cost follows the rows deleted, not the table);
//! 4. the patch is applied to every part at once, so point reads never pay for it (a
//!    mutation of the row mask only: parts of 4 MiB and more are wide, see 0020, so a
//!    day's big part is not rewritten for a few thousand deleted rows);
//! 5. each pair's count is corrected to what the snapshot held less what was deleted,
//!    with the run's deduplication token (a retry applies it once).
//!
//! A run cut short leaves counts too high, never too low: the pair is a candidate again.
//! A large backlog (the first run over a loaded table) is split into slices by cookie
//! hash, so ranking never holds more than about two million rows at once.
//!
//! Bound: a pair holds at most `keep + slack` rows plus its tags of the `recent` window
//! right after a run, plus what it receives until the next run ends. The deleted rows stay on disk, masked, until their
//! part is rewritten: merges do it for new parts; a periodic `OPTIMIZE ... FINAL`
//! (daily by default) for the old big ones, which also folds the table into one part.
//!
//! On a sharded cluster (the projector's `--clickhouse-shard-url`) one trimmer runs per
//! shard, on that shard's local tables ([`read_model::trim::TrimStatements::on_shard`]): a pair's rows
//! all live on one shard, and deletes, mutations and `OPTIMIZE` do not pass through a
//! Distributed table. Tested on the sharded stack (`make cluster-test`,
//! `projector/tests/cluster.rs`).

use clickhouse::Client;
use read_model::trim::{Backlog, Deleted, TrimStatements};
use service_kit::metric_names::projector as names;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// The most candidate rows ranked in one slice.
const ROWS_PER_SLICE: u64 = 2_000_000;

/// What the trimmer keeps and how often it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimPolicy {
    /// Tags kept per (cookie, action): the contract's 200.
    pub keep: u64,
    /// How far above `keep` a pair may grow before a run trims it.
    pub slack: u64,
    /// Event time behind each pair's newest tag inside which nothing is trimmed, so that
    /// a query whose range ends there (a client a little behind the stream) still gets
    /// its full newest `keep`.
    pub recent: Duration,
    /// Time between runs.
    pub interval: Duration,
    /// Time between rewrites of the whole table that give the deleted rows' disk back
    /// (zero: never).
    pub reclaim_interval: Duration,
}

/// Why a run failed (it is tried again at the next interval).
#[derive(Debug, thiserror::Error)]
#[error("trim run failed")]
pub struct TrimError(#[from] clickhouse::error::Error);

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrimReport {
    /// Pairs trimmed.
    pub pairs: u64,
    /// Rows deleted.
    pub rows_deleted: u64,
    /// Slices the run was split into.
    pub slices: u64,
}

/// Trims `user_tags` on one database (of one server, or one shard's local tables).
pub struct Trimmer {
    client: Client,
    policy: TrimPolicy,
    statements: TrimStatements,
    /// The shard's server, for logs (empty on a single server).
    shard: String,
}

impl Trimmer {
    /// A trimmer of `client`'s database on a single server.
    pub fn new(client: Client, policy: TrimPolicy) -> Self {
        Self::build(
            client,
            policy,
            TrimStatements::single_server(),
            String::new(),
        )
    }

    /// A trimmer of one shard's local tables, `client` being that shard's server
    /// (`shard` names it in logs).
    pub fn on_shard(client: Client, policy: TrimPolicy, shard: &str) -> Self {
        Self::build(client, policy, TrimStatements::on_shard(), shard.to_owned())
    }

    fn build(
        client: Client,
        policy: TrimPolicy,
        statements: TrimStatements,
        shard: String,
    ) -> Self {
        Self {
            statements,
            shard,
            // The trim's queries run at nice 10 (ClickHouse's `os_thread_priority`):
            // a run took both cores for about a second every two minutes, and the profile
            // reads queued behind it past their 150 ms deadline (503 bursts at each run
            // under the contract's load). Trimming is never urgent; the reads are.
            client: client
                .with_setting("mutations_sync", "2")
                .with_setting("os_thread_priority", "10"),
            policy,
        }
    }

    /// One run (see the module documentation).
    pub async fn run_once(&self) -> Result<TrimReport, TrimError> {
        let bound = self.policy.keep + self.policy.slack;
        let backlog: Backlog = self.statements.backlog(&self.client, bound).await?;
        if backlog.pairs == 0 {
            return Ok(TrimReport::default());
        }
        let slices = (u64::try_from(backlog.rows).unwrap_or(0) / ROWS_PER_SLICE).max(1);
        let started_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default();
        let mut report = TrimReport {
            slices,
            ..TrimReport::default()
        };
        for slice in 0..slices {
            let run = started_ms.saturating_mul(1000).saturating_add(slice);
            let statements = &self.statements;
            statements
                .select_candidates(&self.client, run, bound, slices, slice)
                .await?;
            let recent_ms = i64::try_from(self.policy.recent.as_millis()).unwrap_or(i64::MAX);
            statements
                .rank_keys(&self.client, run, self.policy.keep, recent_ms)
                .await?;
            statements.delete(&self.client, run).await?;
            statements.apply(&self.client).await?;
            statements.correct(&self.client, run).await?;
            let deleted: Deleted = statements.deleted(&self.client, run).await?;
            report.rows_deleted += deleted.deleted;
            report.pairs += deleted.pairs;
        }
        Ok(report)
    }

    /// Rewrites the table (see [`TrimStatements::reclaim`]).
    pub async fn reclaim(&self) -> Result<(), TrimError> {
        self.statements.reclaim(&self.client).await?;
        Ok(())
    }

    /// Runs every interval until `cancel`, reclaiming the disk every reclaim interval;
    /// failures are logged and counted, and tried again at the next interval.
    pub(crate) async fn run_periodically(self, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.policy.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_reclaim = Instant::now();
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let started = Instant::now();
            match self.run_once().await {
                Ok(report) => {
                    metrics::counter!(names::TRIM_RUNS.name).increment(1);
                    metrics::counter!(names::TRIM_ROWS_DELETED.name).increment(report.rows_deleted);
                    metrics::counter!(names::TRIM_PAIRS.name).increment(report.pairs);
                    metrics::histogram!(names::TRIM_DURATION.name)
                        .record(started.elapsed().as_secs_f64());
                    if report.pairs > 0 {
                        tracing::info!(
                            shard = %self.shard,
                            pairs = report.pairs,
                            rows_deleted = report.rows_deleted,
                            slices = report.slices,
                            seconds = started.elapsed().as_secs_f64(),
                            "profiles trimmed"
                        );
                    }
                }
                Err(error) => {
                    metrics::counter!(names::TRIM_FAILURES.name).increment(1);
                    tracing::warn!(shard = %self.shard, error = %service_kit::error::chain(&error), "trim run failed; trying again at the next interval");
                }
            }
            let reclaim = self.policy.reclaim_interval;
            if !reclaim.is_zero() && last_reclaim.elapsed() >= reclaim {
                last_reclaim = Instant::now();
                let started = Instant::now();
                match self.reclaim().await {
                    Ok(()) => {
                        metrics::counter!(names::RECLAIMS.name).increment(1);
                        tracing::info!(
                            seconds = started.elapsed().as_secs_f64(),
                            "profile store rewritten: trimmed rows' disk reclaimed"
                        );
                    }
                    Err(error) => {
                        metrics::counter!(names::TRIM_FAILURES.name).increment(1);
                        tracing::warn!(error = %service_kit::error::chain(&error), "reclaim failed; trying again later");
                    }
                }
            }
        }
    }
}
