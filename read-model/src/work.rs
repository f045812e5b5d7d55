//! What each statement of this crate is for, as ClickHouse logs it. Every typed function
//! sends its statements with `log_comment` set to its [`Work`], so the query log can be
//! grouped by work (the benchmarks' CPU per kind of work) by a column this crate fills,
//! never by matching SQL text another crate would have to keep in step with the SQL here.

use clickhouse::insert::Insert;
use clickhouse::query::Query;
use clickhouse::{Client, Row};

/// The ClickHouse setting the work is logged under (`system.query_log.log_comment`).
const LOG_COMMENT: &str = "log_comment";

/// The kinds of work the read models' statements do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// A shopper's profile read (read-api's `/user_profiles`).
    ProfileRead,
    /// The contract's minute totals (read-api's `/aggregates`).
    AggregatesRead,
    /// The analysts' series, top-N and newest minute, from the cube, rollup or archive.
    AnalystsRead,
    /// The projector's batch insert into `user_tags` (the views' inserts included).
    ProjectorBatch,
    /// The projector's batch log: where to resume, and its entries.
    BatchLog,
    /// A trim run's statements and the disk's reclaim.
    Trim,
    /// The comparison of the live aggregates with a replay's.
    Reconcile,
    /// Copying and restoring the profile store.
    Snapshot,
    /// Counts and newest times read by operators, tools and tests.
    Inspection,
}

impl Work {
    /// Every kind, in the order the reports list them.
    pub const ALL: [Work; 9] = [
        Work::ProfileRead,
        Work::AggregatesRead,
        Work::AnalystsRead,
        Work::ProjectorBatch,
        Work::BatchLog,
        Work::Trim,
        Work::Reconcile,
        Work::Snapshot,
        Work::Inspection,
    ];

    /// The `log_comment` its statements carry.
    pub const fn log_comment(self) -> &'static str {
        match self {
            Work::ProfileRead => "allezon:profile-read",
            Work::AggregatesRead => "allezon:aggregates-read",
            Work::AnalystsRead => "allezon:analysts-read",
            Work::ProjectorBatch => "allezon:projector-batch",
            Work::BatchLog => "allezon:batch-log",
            Work::Trim => "allezon:trim",
            Work::Reconcile => "allezon:reconcile",
            Work::Snapshot => "allezon:snapshot",
            Work::Inspection => "allezon:inspection",
        }
    }

    /// The kind whose statements carry `comment`; `None` for any other statement.
    pub fn from_log_comment(comment: &str) -> Option<Work> {
        Work::ALL
            .into_iter()
            .find(|work| work.log_comment() == comment)
    }

    /// What a report calls it.
    pub const fn label(self) -> &'static str {
        match self {
            Work::ProfileRead => "profile reads",
            Work::AggregatesRead => "aggregates reads",
            Work::AnalystsRead => "analysts' reads",
            Work::ProjectorBatch => "projector batches (views included)",
            Work::BatchLog => "projector's batch log (offsets)",
            Work::Trim => "trimmer",
            Work::Reconcile => "reconcile",
            Work::Snapshot => "snapshot",
            Work::Inspection => "inspection (counts, newest times)",
        }
    }
}

/// Statements sent with their [`Work`] logged.
pub(crate) trait LoggedClient {
    /// `sql` as a query logged as `work`'s.
    fn query_for(&self, work: Work, sql: &str) -> Query;

    /// An insert into `table` logged as `work`'s.
    fn insert_for<T: Row>(
        &self,
        work: Work,
        table: &str,
    ) -> impl std::future::Future<Output = clickhouse::error::Result<Insert<T>>> + Send;
}

impl LoggedClient for Client {
    fn query_for(&self, work: Work, sql: &str) -> Query {
        self.query(sql)
            .with_setting(LOG_COMMENT, work.log_comment())
    }

    async fn insert_for<T: Row>(
        &self,
        work: Work,
        table: &str,
    ) -> clickhouse::error::Result<Insert<T>> {
        Ok(self
            .insert::<T>(table)
            .await?
            .with_setting(LOG_COMMENT, work.log_comment()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_work_is_found_again_from_its_log_comment_and_no_other() {
        for work in Work::ALL {
            assert_eq!(Work::from_log_comment(work.log_comment()), Some(work));
        }
        assert_eq!(Work::from_log_comment(""), None);
        assert_eq!(Work::from_log_comment("allezon:profile"), None);
        let labels: std::collections::HashSet<_> = Work::ALL.map(Work::label).into();
        assert_eq!(labels.len(), Work::ALL.len(), "labels are distinct");
    }
}
