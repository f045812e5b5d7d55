//! Catch-up of the real projector: the `projector` binary, in its own consumer group and
//! against a freshly migrated database, projects a topic's whole backlog; the clock runs
//! from its start until ClickHouse's resume offsets (`projector_offsets`, written by the
//! same inserts as the rows) reach the topic's high watermarks. The rows and the minute
//! aggregates are then counted against the backlog.
//!
//! While it runs, the CPU time of the projector (per thread), ClickHouse and the broker is
//! recorded, and the projector's own metrics give the time spent inside inserts.

use crate::consume::unique_group;
use crate::process;
use clickhouse::Client;
use serde::{Deserialize, Serialize};
use service_kit::settings::{ClickHouseSettings, KafkaSettings};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct CatchUpOptions {
    /// The projector binary.
    pub projector: PathBuf,
    /// Broker and topic holding the backlog.
    pub kafka: KafkaSettings,
    /// ClickHouse and the (migrated, empty) database to project into.
    pub clickhouse: ClickHouseSettings,
    /// Where the projector's output goes.
    pub log: PathBuf,
    /// ClickHouse server's pid, to record its CPU time.
    pub clickhouse_pid: Option<u32>,
    /// The broker's pid, to record its CPU time.
    pub broker_pid: Option<u32>,
    /// Longest the catch-up may take.
    pub timeout: Duration,
}

/// The measured catch-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatchUpReport {
    /// Messages in the backlog.
    pub messages: i64,
    /// From starting the projector until ClickHouse holds every offset, seconds.
    pub elapsed_s: f64,
    /// `messages / elapsed_s`.
    pub rate: f64,
    /// From starting the projector until the first rows are visible, seconds.
    pub first_rows_s: f64,
    /// Rate from the first visible rows to the end.
    pub rate_after_first: f64,
    /// `count()` of `user_tags` afterwards.
    pub rows: u64,
    /// Sum of the unfiltered minute counts afterwards.
    pub aggregated: u64,
    /// Whether both equal the backlog.
    pub verified: bool,
    /// Inserts made (batches).
    pub batches: f64,
    /// Seconds the pipeline spent inside inserts (ClickHouse answering included).
    pub insert_s: f64,
    /// CPU seconds of the projector by thread name.
    pub projector_cpu_by_thread_s: BTreeMap<String, f64>,
    /// CPU seconds of the projector.
    pub projector_cpu_s: f64,
    /// CPU seconds of ClickHouse.
    pub clickhouse_cpu_s: Option<f64>,
    /// CPU seconds of the broker.
    pub broker_cpu_s: Option<f64>,
}

/// Why the catch-up could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    /// The broker could not be asked for the backlog.
    #[error("kafka")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// ClickHouse failed.
    #[error("clickhouse")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The projector could not be started or its log opened.
    #[error("projector process")]
    Process(#[from] std::io::Error),
    /// The projector exited before catching up.
    #[error("projector exited before catching up: {0}")]
    Exited(std::process::ExitStatus),
    /// It did not catch up in time.
    #[error("not caught up within {0:?}")]
    Timeout(Duration),
    /// A blocking task failed.
    #[error("blocking task failed")]
    Join,
}

/// Stops the child on drop (SIGTERM, then SIGKILL), so an error never leaves it running.
struct Projector(Child);

impl Projector {
    fn stop(&mut self) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Projector {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the projector on the backlog and times it.
pub async fn measure(options: CatchUpOptions) -> Result<CatchUpReport, CatchUpError> {
    let kafka = options.kafka.clone();
    let marks = tokio::task::spawn_blocking(move || service_kit::kafka::watermarks(&kafka))
        .await
        .map_err(|_| CatchUpError::Join)??;
    let messages: i64 = marks.values().map(|(low, high)| high - low).sum();
    let client = service_kit::clickhouse::client(&options.clickhouse);
    let metrics_port = free_port()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&options.log)?;
    let cpu = |pid: Option<u32>| pid.and_then(process::cpu_seconds);
    let (clickhouse_before, broker_before) = (cpu(options.clickhouse_pid), cpu(options.broker_pid));
    let started = Instant::now();
    // PROJECTOR_BATCH_* and the like come from this process's environment.
    let child = Command::new(&options.projector)
        .env("KAFKA_BROKERS", &options.kafka.brokers)
        .env("KAFKA_TOPIC", &options.kafka.topic)
        .env("CLICKHOUSE_URL", &options.clickhouse.url)
        .env("CLICKHOUSE_DATABASE", &options.clickhouse.database)
        .env("PROJECTOR_GROUP_ID", unique_group("bench-projector"))
        .env("PROJECTOR_LISTEN", format!("127.0.0.1:{metrics_port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let mut projector = Projector(child);
    let pid = projector.0.id();
    let mut first_rows = None;
    let threads_before = process::cpu_seconds_by_thread(pid);
    loop {
        if let Some(status) = projector.0.try_wait()? {
            return Err(CatchUpError::Exited(status));
        }
        if started.elapsed() > options.timeout {
            return Err(CatchUpError::Timeout(options.timeout));
        }
        let next = next_offsets(&client, &options.kafka.topic).await?;
        if first_rows.is_none() && !next.is_empty() {
            first_rows = Some(started.elapsed());
        }
        let done = marks.iter().all(|(partition, (low, high))| {
            high <= low || next.get(partition).is_some_and(|next| next >= high)
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let projector_cpu_by_thread_s =
        process::thread_delta(&threads_before, &process::cpu_seconds_by_thread(pid));
    let projector_cpu_s = process::cpu_seconds(pid).unwrap_or(0.0);
    let (clickhouse_after, broker_after) = (cpu(options.clickhouse_pid), cpu(options.broker_pid));
    let metrics = scrape_metrics(metrics_port).await.unwrap_or_default();
    tokio::task::spawn_blocking(move || projector.stop())
        .await
        .map_err(|_| CatchUpError::Join)?;
    let rows = read_model::tags::rows(&client).await?;
    let aggregated = read_model::cube::tags_counted(&client).await?;
    let first = first_rows.unwrap_or(elapsed);
    let delta = |after: Option<f64>, before: Option<f64>| Some(after? - before?);
    Ok(CatchUpReport {
        messages,
        elapsed_s: elapsed.as_secs_f64(),
        rate: messages as f64 / elapsed.as_secs_f64(),
        first_rows_s: first.as_secs_f64(),
        rate_after_first: messages as f64 / (elapsed - first).as_secs_f64().max(1e-9),
        rows,
        aggregated,
        verified: i64::try_from(rows) == Ok(messages) && i64::try_from(aggregated) == Ok(messages),
        batches: metrics
            .get(&service_kit::metric_names::projector::BATCH_DURATION.count_series())
            .copied()
            .unwrap_or(0.0),
        insert_s: metrics
            .get(&service_kit::metric_names::projector::BATCH_DURATION.sum_series())
            .copied()
            .unwrap_or(0.0),
        projector_cpu_by_thread_s,
        projector_cpu_s,
        clickhouse_cpu_s: delta(clickhouse_after, clickhouse_before),
        broker_cpu_s: delta(broker_after, broker_before),
    })
}

/// The next offset the batch log holds per partition of `topic` (what the projector resumes from).
async fn next_offsets(
    client: &Client,
    topic: &str,
) -> Result<std::collections::HashMap<i32, i64>, clickhouse::error::Error> {
    let rows = read_model::batch_log::next_offsets(client, topic).await?;
    Ok(rows.into_iter().collect())
}

/// The projector's unlabelled metric samples (`name value` lines of /metrics).
async fn scrape_metrics(port: u16) -> Result<BTreeMap<String, f64>, reqwest::Error> {
    let client = reqwest::Client::new();
    let text =
        crate::prometheus::scrape(&client, &format!("http://127.0.0.1:{port}/metrics")).await?;
    Ok(crate::prometheus::scalars(&text))
}

/// A port nothing listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
