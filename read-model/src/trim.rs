//! Trimming the profile store: the statements of a trim run (which pairs are over
//! their bound, which of their keys are doomed, the delete, the counts' correction) and
//! the rewrite that gives the deleted rows' disk back. The projector's trimmer decides
//! when and with which bounds; the SQL lives here.
//!
//! On a sharded cluster a trim runs on each shard's local tables
//! ([`TrimStatements::on_shard`]): a pair's rows all live on one shard, and deletes,
//! mutations and `OPTIMIZE` do not pass through a Distributed table.

use crate::work::{LoggedClient, Work};
use clickhouse::{Client, Row};
use serde::Deserialize;

/// How many (cookie, action) pairs are above `?` rows, and how many rows they hold in
/// all (from the counts, never user_tags). Binds: the bound.
const TRIM_BACKLOG: &str = "\
    SELECT count() AS pairs, sum(counted) AS rows FROM ( \
        SELECT cookie, action, sum(rows) AS counted FROM user_tag_counts \
        GROUP BY cookie, action HAVING counted > ? \
    )";

/// A trim run's candidates: the pairs of one slice (cookie hash modulo the slices)
/// above the bound. Binds: run, bound, slices, slice.
const TRIM_CANDIDATES: &str = "\
    INSERT INTO trim_candidates (run, cookie, action, counted) \
    SELECT ?, cookie, action, counted FROM ( \
        SELECT cookie, action, sum(rows) AS counted FROM user_tag_counts \
        GROUP BY cookie, action HAVING counted > ? \
    ) WHERE cityHash64(cookie) % ? = ?";

/// A trim run's keys, from one snapshot of the candidates' rows. Each pair's distinct
/// event times less than `recent` ms older than its newest one are all kept (so a query whose range
/// ends anywhere in that window still gets its full newest `keep`); of the older ones,
/// the newest `keep` are kept and the rest doomed. The pair's newest key is stored too,
/// to carry the rows the pair held. Binds: run, keep, recent, run.
const TRIM_KEYS: &str = "\
    INSERT INTO trim_keys (run, cookie, action, time_ms, copies, present, doomed) \
    SELECT ?, cookie, action, time_ms, copies, present, doomed FROM ( \
        SELECT cookie, action, time_ms, copies, present, newest, \
               old AND row_number() OVER (PARTITION BY cookie, action, old ORDER BY time_ms DESC) > ? AS doomed \
        FROM ( \
            SELECT cookie, action, time_ms, copies, present, newest, time_ms <= newest - ? AS old \
            FROM ( \
                SELECT cookie, action, time_ms, copies, \
                       max(time_ms) OVER (PARTITION BY cookie, action) AS newest, \
                       sum(copies) OVER (PARTITION BY cookie, action) AS present \
                FROM ( \
                    SELECT cookie, action, time_ms, count() AS copies FROM user_tags \
                    WHERE (cookie, action) IN (SELECT cookie, action FROM trim_candidates WHERE run = ?) \
                    GROUP BY cookie, action, time_ms \
                ) \
            ) \
        ) \
    ) WHERE doomed OR time_ms = newest";

/// Deletes a run's doomed keys as a patch part (its cost follows the rows deleted, not
/// the table's size); `_force` fails rather than fall back to a full mutation. Binds:
/// run.
const TRIM_DELETE: &str = "\
    DELETE FROM user_tags WHERE (cookie, action, time_ms) IN \
        (SELECT cookie, action, time_ms FROM trim_keys WHERE run = ? AND doomed) \
    SETTINGS lightweight_delete_mode = 'lightweight_update_force', lightweight_deletes_sync = 2";

/// Writes the deletes' patch parts into every part's row mask now, so point reads never
/// pay for patch parts (measured: about 1.2 ms per unapplied patch part per read).
const TRIM_APPLY: &str = "ALTER TABLE user_tags APPLY PATCHES SETTINGS mutations_sync = 2";

/// Corrects a run's pairs' counts to the rows present in its snapshot less the rows
/// deleted (the view adds what arrived since). Binds: run, run; the insert carries the
/// run's deduplication token, so a retried correction is applied once.
const TRIM_CORRECT: &str = "\
    INSERT INTO user_tag_counts (cookie, action, rows) \
    SELECT candidates.cookie, candidates.action, \
           toInt64(keys.present) - toInt64(keys.deleted) - candidates.counted \
    FROM trim_candidates AS candidates \
    INNER JOIN ( \
        SELECT cookie, action, any(present) AS present, sumIf(copies, doomed = 1) AS deleted \
        FROM trim_keys WHERE run = ? GROUP BY cookie, action \
    ) AS keys USING (cookie, action) \
    WHERE candidates.run = ?";

/// Rows a run deleted. Binds: run.
const TRIM_DELETED: &str =
    "SELECT sumIf(copies, doomed = 1) AS deleted, uniqExact(cookie, action) AS pairs FROM trim_keys WHERE run = ?";

/// Rewrites user_tags into one part per partition: the rows trims masked leave the disk,
/// copies of replayed tags collapse, and point reads touch one part.
const RECLAIM: &str = "OPTIMIZE TABLE user_tags FINAL";

/// How many (cookie, action) pairs are over the bound, and the rows they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct Backlog {
    /// Pairs over the bound.
    pub pairs: u64,
    /// Rows they hold in all.
    pub rows: i64,
}

/// What one run deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct Deleted {
    /// Rows deleted.
    pub deleted: u64,
    /// Pairs trimmed.
    pub pairs: u64,
}

/// The statements of a run, for a single server's tables or a shard's local ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrimStatements {
    backlog: String,
    candidates: String,
    keys: String,
    delete: String,
    apply: String,
    correct: String,
    deleted: String,
    reclaim: String,
}

impl TrimStatements {
    /// On a single server's tables.
    pub fn single_server() -> Self {
        Self::new(str::to_owned)
    }

    /// On a shard's local tables (the client being that shard's server).
    pub fn on_shard() -> Self {
        Self::new(on_shard)
    }

    fn new(localize: fn(&str) -> String) -> Self {
        Self {
            backlog: localize(TRIM_BACKLOG),
            candidates: localize(TRIM_CANDIDATES),
            keys: localize(TRIM_KEYS),
            delete: localize(TRIM_DELETE),
            apply: localize(TRIM_APPLY),
            correct: localize(TRIM_CORRECT),
            deleted: localize(TRIM_DELETED),
            reclaim: localize(RECLAIM),
        }
    }

    /// The pairs above `bound` rows (from the counts).
    pub async fn backlog(
        &self,
        client: &Client,
        bound: u64,
    ) -> Result<Backlog, clickhouse::error::Error> {
        client
            .query_for(Work::Trim, &self.backlog)
            .bind(bound)
            .fetch_one()
            .await
    }

    /// Stores run `run`'s candidates: the pairs above `bound` of slice `slice` of
    /// `slices`.
    pub async fn select_candidates(
        &self,
        client: &Client,
        run: u64,
        bound: u64,
        slices: u64,
        slice: u64,
    ) -> Result<(), clickhouse::error::Error> {
        client
            .query_for(Work::Trim, &self.candidates)
            .bind(run)
            .bind(bound)
            .bind(slices)
            .bind(slice)
            .execute()
            .await
    }

    /// Stores run `run`'s keys: of each candidate's keys older than `recent_ms` behind
    /// its newest, all but the newest `keep` doomed.
    pub async fn rank_keys(
        &self,
        client: &Client,
        run: u64,
        keep: u64,
        recent_ms: i64,
    ) -> Result<(), clickhouse::error::Error> {
        client
            .query_for(Work::Trim, &self.keys)
            .bind(run)
            .bind(keep)
            .bind(recent_ms)
            .bind(run)
            .execute()
            .await
    }

    /// Deletes run `run`'s doomed keys.
    pub async fn delete(&self, client: &Client, run: u64) -> Result<(), clickhouse::error::Error> {
        client
            .query_for(Work::Trim, &self.delete)
            .bind(run)
            .execute()
            .await
    }

    /// Applies the deletes' patch parts.
    pub async fn apply(&self, client: &Client) -> Result<(), clickhouse::error::Error> {
        client.query_for(Work::Trim, &self.apply).execute().await
    }

    /// Corrects run `run`'s pairs' counts, once however often it is retried.
    pub async fn correct(&self, client: &Client, run: u64) -> Result<(), clickhouse::error::Error> {
        client
            .query_for(Work::Trim, &self.correct)
            .bind(run)
            .bind(run)
            .with_setting("insert_deduplication_token", format!("trim-{run}"))
            .execute()
            .await
    }

    /// What run `run` deleted.
    pub async fn deleted(
        &self,
        client: &Client,
        run: u64,
    ) -> Result<Deleted, clickhouse::error::Error> {
        client
            .query_for(Work::Trim, &self.deleted)
            .bind(run)
            .fetch_one()
            .await
    }

    /// Rewrites the table (see [`RECLAIM`]).
    pub async fn reclaim(&self, client: &Client) -> Result<(), clickhouse::error::Error> {
        client.query_for(Work::Trim, &self.reclaim).execute().await
    }
}

/// The tables a trim run reads and writes. On a sharded cluster each is a Distributed
/// table over a shard-local `<name>_local` table (the migrations' `{{table}}`), and a
/// trim runs on each shard's local tables: a pair's rows all live on one shard (sharded
/// by Kafka partition, keyed by cookie), and deletes, mutations and `OPTIMIZE` do not go
/// through a Distributed table.
const TRIMMED_TABLES: [&str; 4] = [
    "user_tags",
    "user_tag_counts",
    "trim_candidates",
    "trim_keys",
];

/// `query` (one of the trim's) addressing a shard's local tables: every identifier
/// naming one of [`TRIMMED_TABLES`] gets the `_local` suffix.
fn on_shard(query: &str) -> String {
    let mut local = String::with_capacity(query.len() + 32);
    let mut word = String::new();
    let flush = |word: &mut String, local: &mut String| {
        local.push_str(word);
        if TRIMMED_TABLES.contains(&word.as_str()) {
            local.push_str("_local");
        }
        word.clear();
    };
    for character in query.chars() {
        if character.is_ascii_alphanumeric() || character == '_' {
            word.push(character);
        } else {
            flush(&mut word, &mut local);
            local.push(character);
        }
    }
    flush(&mut word, &mut local);
    local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_on_a_shard_touches_only_its_local_tables() {
        assert_eq!(
            on_shard(TRIM_APPLY),
            "ALTER TABLE user_tags_local APPLY PATCHES SETTINGS mutations_sync = 2"
        );
        assert_eq!(on_shard(RECLAIM), "OPTIMIZE TABLE user_tags_local FINAL");
        for query in [
            TRIM_BACKLOG,
            TRIM_CANDIDATES,
            TRIM_KEYS,
            TRIM_DELETE,
            TRIM_CORRECT,
            TRIM_DELETED,
        ] {
            let local = on_shard(query);
            let words: Vec<&str> = local
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            for table in TRIMMED_TABLES {
                assert!(!words.contains(&table), "{table} left in {local}");
            }
            assert_eq!(
                local.replace("_local", ""),
                query,
                "only table names changed"
            );
            assert!(local.contains("_local"), "{local}");
        }
        assert_eq!(
            on_shard("SELECT user_tags_x, xuser_tags FROM t"),
            "SELECT user_tags_x, xuser_tags FROM t"
        );
    }
}
