//! Why a benchmark could not be run. A figure that misses its limit is not an error (it
//! is a verdict in the report); these are the failures that leave no figure at all.

use std::path::PathBuf;

/// What went wrong, with its cause.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse: {what}")]
    ClickHouse {
        /// What was being asked.
        what: String,
        /// The client's error.
        #[source]
        source: clickhouse::error::Error,
    },
    /// A broker request failed.
    #[error("kafka")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// An HTTP request of the benchmark itself (not a measured one) failed.
    #[error("http: {what}")]
    Http {
        /// What was being asked.
        what: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// A program the benchmark runs (tansu) failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and the end of its output.
        detail: String,
    },
    /// A file or process could not be used.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A results file could not be read or written.
    #[error("results file {path}")]
    Results {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Migrating a scratch database failed.
    #[error("migrations")]
    Migrations(#[from] migrations::MigrationError),
    /// Loading tags failed.
    #[error("loading tags")]
    Load(#[from] crate::loader::LoadError),
    /// The raw consume rate could not be measured.
    #[error("raw consume")]
    Consume(#[from] crate::consume::ConsumeError),
    /// The projector's catch-up could not be measured.
    #[error("projector catch-up")]
    CatchUp(#[from] crate::catch_up::CatchUpError),
    /// The raw producer ceiling could not be measured.
    #[error("producer ceiling")]
    Ceiling(#[from] loadgen::ceiling::CeilingError),
    /// The checking harness could not run.
    #[error("loadgen run")]
    Harness(#[from] loadgen::harness::HarnessError),
    /// A component's process could not be acted on, or `scripts/stack.sh` failed.
    #[error(transparent)]
    StackControl(#[from] stack_control::StackError),
    /// The stack is not in the state a benchmark needs.
    #[error("{0}")]
    Stack(String),
    /// A task of the benchmark panicked or was cancelled.
    #[error("a benchmark task failed")]
    Join(#[from] tokio::task::JoinError),
    /// The load sent in the background of a measurement gave no summary.
    #[error("background ingest")]
    BackgroundIngest(#[from] crate::background_ingest::BackgroundIngestError),
    /// The capacity model could not be computed.
    #[error("capacity model")]
    Capacity(#[from] crate::capacity::CapacityError),
    /// A chart could not be drawn.
    #[error("plot")]
    Plot(#[from] crate::plot::PlotError),
    /// A report's template did not render (a figure it names is missing, or its syntax).
    #[error("report template {name}")]
    Template {
        /// The template's file name under `bench/templates/`.
        name: String,
        /// What minijinja said.
        #[source]
        source: minijinja::Error,
    },
}

impl BenchError {
    /// A ClickHouse error while asking `what`.
    pub fn clickhouse(what: impl Into<String>) -> impl FnOnce(clickhouse::error::Error) -> Self {
        let what = what.into();
        move |source| Self::ClickHouse { what, source }
    }

    /// An HTTP error while asking `what`.
    pub fn http(what: impl Into<String>) -> impl FnOnce(reqwest::Error) -> Self {
        let what = what.into();
        move |source| Self::Http { what, source }
    }

    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}
