//! Fixtures shared by the integration tests of every crate, so no test copies another.
//!
//! Tests talk to the real stack started by `make up` (ClickHouse on 8123, Tansu on
//! 9092; override with `CLICKHOUSE_URL` / `KAFKA_BROKERS`) and keep out of each other's
//! way with unique topic and database names. Tests that stop a broker or ClickHouse
//! start their own private one ([`PrivateBroker`], [`PrivateClickHouse`]) rather than
//! disturbing the shared stack. A service under test runs on a task of the test as a
//! [`ServedApp`]. Hostile-input tests send exact bytes with [`raw_http`].

mod clickhouse;
pub mod raw_http;
mod served;
pub use clickhouse::{free_ports, PrivateClickHouse};
pub use served::{ServedApp, ShutdownSignal};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use service_kit::settings::{ClickHouseSettings, KafkaSettings};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test run uses: `<prefix>_<pid>_<n>_<nanos>`.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{count}_{nanos}", std::process::id())
}

/// The shared stack's brokers.
pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS")
        .unwrap_or_else(|_| service_kit::settings::DEFAULT_KAFKA_BROKERS.to_owned())
}

/// Kafka settings for `topic` on `brokers`, without a schema registry.
pub fn kafka_settings(brokers: &str, topic: &str) -> KafkaSettings {
    KafkaSettings {
        brokers: brokers.to_owned(),
        topic: topic.to_owned(),
        schema_registry_url: None,
    }
}

/// ClickHouse settings for `database` on the shared stack.
pub fn clickhouse_settings(database: &str) -> ClickHouseSettings {
    ClickHouseSettings {
        url: std::env::var("CLICKHOUSE_URL")
            .unwrap_or_else(|_| service_kit::settings::DEFAULT_CLICKHOUSE_URL.to_owned()),
        database: database.to_owned(),
        user: "default".to_owned(),
        password: String::new(),
    }
}

/// Polls `check` until it is true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// Flushes ClickHouse's query log once every query of `client`'s database has ended, so
/// that `system.query_log` read afterwards holds an entry for each of them.
///
/// ClickHouse finishes an HTTP answer before the query ends and writes its log entry
/// (its own functional tests say so and wait for it; measured here on 26.9: 18 of 500
/// queries were still listed in `system.processes` after their whole answer was read),
/// so `SYSTEM FLUSH LOGS` right after the answers can miss the last ones: a test reading
/// the log then counted too few (the rollup-or-cube test failed so once in three full
/// runs). A query leaves `system.processes` only after its entry is written, so this
/// waits, on ClickHouse's word and not on a guess of time, until no query of the database
/// (but the one asking) is listed, then flushes.
pub async fn flush_query_log(client: &::clickhouse::Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running: u64 = client
            .query(
                "SELECT count() FROM system.processes \
                 WHERE current_database = currentDatabase() AND query_id != queryID()",
            )
            .fetch_one()
            .await
            .unwrap_or_else(|error| panic!("system.processes read: {error}"));
        if running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{running} queries of the database still running after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client
        .query("SYSTEM FLUSH LOGS")
        .execute()
        .await
        .unwrap_or_else(|error| panic!("logs flushed: {error}"));
}

/// A fresh database with every migration applied. The first call of a test process
/// also drops the test databases of earlier runs ([`sweep_old_test_databases`]).
pub async fn migrated_database(prefix: &str) -> ClickHouseSettings {
    let settings = clickhouse_settings(&unique_name(prefix));
    let server = service_kit::clickhouse::server_client(&settings);
    SWEPT
        .get_or_init(|| sweep_old_test_databases(&server))
        .await;
    let applied = migrations::apply(&server, &settings.database, &migrations::bundled_dir()).await;
    assert!(applied.is_ok(), "migrations failed: {applied:?}");
    settings
}

/// Test databases whose tables were all created or altered longer ago than this are
/// dropped (the same hour as the test topics' retention: far longer than `make test`).
const TEST_DATABASE_RETENTION_HOURS: u32 = 1;
/// A test database whose test process has ended is dropped once it is this old: a
/// failed test's database stays a while to look at, and no longer costs ClickHouse its
/// background work (each keeps a dozen MergeTree tables scheduled).
const ENDED_TEST_DATABASE_RETENTION_MINUTES: u32 = 10;
/// The names [`unique_name`] gives: `<prefix>_<pid>_<n>_<nanos>`.
const TEST_DATABASE_NAME: &str = "^[a-z0-9_]+_[0-9]+_[0-9]+_[0-9]+$";

static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// The pid of the test process that made a database, from its name.
fn creator_pid(database: &str) -> Option<u32> {
    let mut parts = database.rsplitn(4, '_');
    let _nanos = parts.next()?;
    let _count = parts.next()?;
    parts.next()?.parse().ok()
}

/// Drops the test databases of earlier runs. Every test makes its own database and none
/// drops it (a failed test's is kept to look at), so the local ClickHouse gathered
/// every run's: 1,108 databases, about 12,000 tables, made a restart take 19 s, which
/// a ClickHouse crash in `make chaos` then cost in freshness; 110 of them kept an idle
/// ClickHouse at 0.063 core instead of 0.014. Dropped: databases older than an hour,
/// and those of ended test processes older than ten minutes. Best effort: a database
/// that cannot be dropped now is dropped by a later run.
async fn sweep_old_test_databases(server: &::clickhouse::Client) {
    let aged: Vec<(String, u32)> = server
        .query(
            "SELECT database, toUInt32(dateDiff('minute', max(metadata_modification_time), now())) \
             FROM system.tables WHERE match(database, ?) GROUP BY database",
        )
        .bind(TEST_DATABASE_NAME)
        .fetch_all()
        .await
        .unwrap_or_default();
    let ended = |database: &str| {
        creator_pid(database)
            .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    };
    let old = aged.into_iter().filter(|(database, minutes)| {
        *minutes >= TEST_DATABASE_RETENTION_HOURS * 60
            || (*minutes >= ENDED_TEST_DATABASE_RETENTION_MINUTES && ended(database))
    });
    for (database, _) in old {
        let _ = server
            .query("DROP DATABASE IF EXISTS ?")
            .bind(::clickhouse::sql::Identifier(&database))
            .execute()
            .await;
    }
}

/// How long a test's topic keeps its records: far longer than `make test` runs, short
/// enough that the local broker does not carry every past run's records (Tansu 0.6 cannot
/// delete one topic, and its retention pass scans every record it holds).
const TEST_TOPIC_RETENTION_MS: u64 = 60 * 60 * 1000;

/// Creates `topic` with `partitions` partitions, waiting until the broker reports it.
/// Uses Tansu's own CLI: Tansu 0.6 times out on librdkafka's CreateTopics admin request.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let broker_url = format!("tcp://{brokers}");
    let retention = format!("retention.ms={TEST_TOPIC_RETENTION_MS}");
    let output = Command::new(tansu_binary())
        .args([
            "topic",
            "create",
            topic,
            "--partitions",
            &partitions.to_string(),
            "--broker",
            &broker_url,
            "--config",
            "cleanup.policy=delete",
            "--config",
            &retention,
        ])
        .output()
        .unwrap_or_else(|error| panic!("run tansu topic create: {error}"));
    assert!(
        output.status.success(),
        "tansu topic create {topic}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let client: BaseConsumer = service_kit::kafka::base_config(&kafka_settings(brokers, topic))
        .create()
        .unwrap_or_else(|error| panic!("metadata client: {error}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let known = client
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .map(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .any(|found| found.partitions().len() == partitions as usize)
            })
            .unwrap_or(false);
        if known {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} not visible after creation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every payload of `topic` (all partitions), with its key, read from the start up to
/// the high watermarks as they are now.
pub fn read_topic(brokers: &str, topic: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let consumer: BaseConsumer = service_kit::kafka::base_config(&kafka_settings(brokers, topic))
        .set("group.id", unique_name("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap_or_else(|error| panic!("consumer: {error}"));
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap_or_else(|error| panic!("metadata: {error}"));
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|found| found.partitions().iter().map(|partition| partition.id()))
        .collect();
    let mut remaining = 0_i64;
    let mut assignment = TopicPartitionList::new();
    for partition in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, *partition, Duration::from_secs(10))
            .unwrap_or_else(|error| panic!("watermarks: {error}"));
        remaining += high - low;
        if high > low {
            let _ = assignment.add_partition_offset(topic, *partition, Offset::Offset(low));
        }
    }
    if remaining == 0 {
        return Vec::new();
    }
    consumer
        .assign(&assignment)
        .unwrap_or_else(|error| panic!("assign: {error}"));
    let mut payloads = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (payloads.len() as i64) < remaining && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(500)) {
            payloads.push((
                message.key().unwrap_or_default().to_vec(),
                message.payload().unwrap_or_default().to_vec(),
            ));
        }
    }
    assert_eq!(
        payloads.len() as i64,
        remaining,
        "could not read all of {topic}"
    );
    payloads
}

/// A Tansu broker of the test's own, on its own port and storage, that the test may
/// stop and start without disturbing the shared stack.
pub struct PrivateBroker {
    port: u16,
    directory: PathBuf,
    child: Option<Child>,
}

impl PrivateBroker {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap_or_else(|error| panic!("free port: {error}"));
        let directory = std::env::temp_dir().join(unique_name("tansu"));
        std::fs::create_dir_all(&directory).unwrap_or_else(|error| panic!("broker dir: {error}"));
        let mut broker = Self {
            port,
            directory,
            child: None,
        };
        broker.resume();
        broker
    }

    /// `host:port` of this broker.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (its storage is kept).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and storage.
    pub fn resume(&mut self) {
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(tansu_binary())
            .current_dir(&self.directory)
            .args([
                "broker",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &listener,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdout(Stdio::null())
            .stderr(log_file(&self.directory.join("tansu.log")))
            .spawn()
            .unwrap_or_else(|error| panic!("start tansu: {error}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "private broker did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

fn log_file(path: &std::path::Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn tansu_binary() -> PathBuf {
    if let Ok(path) = std::env::var("TANSU_BIN") {
        return PathBuf::from(path);
    }
    let home_binary =
        std::env::var("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/tansu"));
    match home_binary {
        Ok(path) if path.exists() => path,
        _ => PathBuf::from("tansu"),
    }
}

/// A TCP forwarder in front of a dependency that a test can switch off and on, to
/// simulate an outage without disturbing the shared stack: while disabled, its port
/// refuses connections and every connection it was carrying is closed.
pub struct ToggleProxy {
    address: std::net::SocketAddr,
    target: String,
    answer_delay: std::time::Duration,
    accepting: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl ToggleProxy {
    /// Starts forwarding a free local port to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        Self::start_delayed(target, Duration::ZERO).await
    }

    /// Like [`Self::start`], holding every chunk of the target's answers back for
    /// `answer_delay` (a slow dependency, to keep a request in flight).
    pub async fn start_delayed(target: &str, answer_delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("proxy bind: {error}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("proxy address: {error}"));
        let proxy = Self {
            address,
            target: target.to_owned(),
            answer_delay,
            accepting: tokio::sync::Mutex::new(None),
            connections: std::sync::Arc::new(std::sync::Mutex::new(Vec::new())),
        };
        proxy.serve(listener).await;
        proxy
    }

    /// The proxy's own address, to use instead of the target's.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    /// Closes the listener and every live connection; new connections are refused.
    pub async fn disable(&self) {
        if let Some(accepting) = self.accepting.lock().await.take() {
            accepting.abort();
            let _ = accepting.await;
        }
        let live: Vec<_> = match self.connections.lock() {
            Ok(mut connections) => connections.drain(..).collect(),
            Err(poisoned) => poisoned.into_inner().drain(..).collect(),
        };
        for connection in live {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Listens again on the same address.
    pub async fn enable(&self) {
        if self.accepting.lock().await.is_some() {
            return;
        }
        let listener = tokio::net::TcpListener::bind(self.address)
            .await
            .unwrap_or_else(|error| panic!("proxy rebind {}: {error}", self.address));
        self.serve(listener).await;
    }

    async fn serve(&self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        let answer_delay = self.answer_delay;
        let connections = std::sync::Arc::clone(&self.connections);
        let accepting = tokio::spawn(async move {
            while let Ok((inbound, _peer)) = listener.accept().await {
                let target = target.clone();
                let connection = tokio::spawn(async move {
                    if let Ok(outbound) = tokio::net::TcpStream::connect(&target).await {
                        forward_both_ways(inbound, outbound, answer_delay).await;
                    }
                });
                if let Ok(mut live) = connections.lock() {
                    live.retain(|task| !task.is_finished());
                    live.push(connection);
                }
            }
        });
        *self.accepting.lock().await = Some(accepting);
    }
}

impl Drop for ToggleProxy {
    fn drop(&mut self) {
        if let Some(accepting) = self.accepting.get_mut().take() {
            accepting.abort();
        }
        if let Ok(connections) = self.connections.lock() {
            for connection in connections.iter() {
                connection.abort();
            }
        }
    }
}

async fn forward_both_ways(
    inbound: tokio::net::TcpStream,
    outbound: tokio::net::TcpStream,
    answer_delay: Duration,
) {
    let (inbound_read, inbound_write) = inbound.into_split();
    let (outbound_read, outbound_write) = outbound.into_split();
    tokio::join!(
        forward(inbound_read, outbound_write, Duration::ZERO),
        forward(outbound_read, inbound_write, answer_delay)
    );
}

/// Copies bytes until end of stream or an error, then shuts the write side down
/// (dropping an owned write half sends FIN). Uses only tokio's `net` feature.
async fn forward(
    from: tokio::net::tcp::OwnedReadHalf,
    to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        if from.readable().await.is_err() {
            return;
        }
        let read = match from.try_read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut pending = &buffer[..read];
        while !pending.is_empty() {
            if to.writable().await.is_err() {
                return;
            }
            match to.try_write(pending) {
                Ok(written) => pending = &pending[written..],
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_database_names_the_process_that_made_it() {
        assert_eq!(creator_pid("read_api_v1_13075_9_772485711"), Some(13075));
        assert_eq!(
            creator_pid(&unique_name("some_prefix")),
            Some(std::process::id())
        );
        assert_eq!(creator_pid("allezon"), None);
    }
}
