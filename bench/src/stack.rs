//! The local stack as the benchmarks use it. The stack is supervised by `scripts/`
//! (`make up`, `scripts/stack.sh`); a benchmark never starts or stops a component any
//! other way, so the pid files under `.stack/run` stay true and `make down` stops what
//! a benchmark left running. What it owns here:
//! - where things are: the repository, `.stack/` (pid files, logs, results), the
//!   release binaries, each component's URL ([`StackSettings`], flags with the same
//!   environment fallbacks `scripts/lib.sh` exports);
//! - which components a benchmark needs ([`COMPONENTS`], [`SERVICES`]); their pids (checked
//!   against `/proc/<pid>/cmdline`), `scripts/stack.sh` and `/proc` are the
//!   `stack-control` crate's;
//! - moving the three services onto a scratch topic and database ([`Scratch`]) and
//!   back to the defaults ([`Restore`], also after an error or an interruption);
//! - creating a scratch topic (Tansu's CLI: Tansu 0.6 times out on librdkafka's
//!   CreateTopics; and never `tansu topic delete`, which deletes every topic).

use crate::error::BenchError;
use clap::Args;
use service_kit::settings::{ClickHouseSettings, KafkaSettings};
use stack_control::ScriptOutput;
pub use stack_control::{Action, Component};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the stack and the repository are.
#[derive(Debug, Clone, Args)]
pub struct StackSettings {
    /// The repository (scripts/, migrations/, target/release/, .stack/, docs/).
    #[arg(long, env = "BENCH_REPO_ROOT", default_value = ".")]
    pub repo_root: PathBuf,
    /// The front door (nginx).
    #[arg(long, env = "ALLEZON_URL", default_value = "http://127.0.0.1:8000")]
    pub front_door_url: String,
    /// write-api, direct.
    #[arg(long, env = "WRITE_API_URL", default_value = "http://127.0.0.1:8081")]
    pub write_api_url: String,
    /// read-api, direct.
    #[arg(long, env = "READ_API_URL", default_value = "http://127.0.0.1:8082")]
    pub read_api_url: String,
    /// The projector's /health, /ready and /metrics.
    #[arg(long, env = "PROJECTOR_URL", default_value = "http://127.0.0.1:8083")]
    pub projector_url: String,
    /// Bootstrap brokers.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = service_kit::settings::DEFAULT_KAFKA_BROKERS
    )]
    pub brokers: String,
    /// The tansu program (for `tansu topic create`).
    #[arg(long, env = "TANSU_BIN", default_value = "tansu")]
    pub tansu_bin: PathBuf,
    /// ClickHouse (its database is the live one, left alone; each benchmark names its own).
    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,
}

/// The components a benchmark needs up and reads from `/proc`, infrastructure first
/// (not the archiver, which no benchmark but `bench archive` measures, by its own pid).
pub const COMPONENTS: [Component; 6] = [
    Component::ClickHouse,
    Component::Tansu,
    Component::WriteApi,
    Component::ReadApi,
    Component::Projector,
    Component::Nginx,
];

/// The three services a benchmark moves onto a scratch topic and database.
pub const SERVICES: [Component; 3] = [
    Component::WriteApi,
    Component::ReadApi,
    Component::Projector,
];

/// How long a scratch topic keeps its records: longer than any benchmark runs (the soak,
/// the longest, about 95 minutes), and short enough that past runs' records do not stay
/// in the broker. Tansu 0.6 cannot delete one topic (its DeleteTopics removes every
/// topic's row), and its retention pass, every 10 minutes, scans every record it holds
/// while holding the write lock: each past run's records lengthened that stall for every
/// later run (docs/soak-findings.md).
pub const SCRATCH_RETENTION_MS: u64 = 3 * 60 * 60 * 1000;

/// The environment variables that move a service onto a scratch topic and database.
const SCRATCH_VARIABLES: [&str; 4] = [
    "KAFKA_TOPIC",
    "CLICKHOUSE_DATABASE",
    "PROJECTOR_GROUP_ID",
    "PROJECTOR_DEAD_LETTER_TOPIC",
];

/// A scratch topic (and its dead-letter topic), consumer group and database, so a
/// benchmark's tags never mix with the live ones. Topics stay after the run (Tansu 0.6
/// cannot delete one topic); databases are dropped unless kept on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scratch {
    /// Topic and consumer group.
    pub topic: String,
    /// Database the projector writes and read-api reads.
    pub database: String,
}

impl Scratch {
    /// `<prefix>_<unix seconds>` for the topic and group; `database` as given, or the
    /// topic's name when `None`.
    pub fn new(prefix: &str, database: Option<&str>) -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let topic = format!("{prefix}_{seconds}");
        Self {
            database: database.map_or_else(|| topic.clone(), str::to_owned),
            topic,
        }
    }

    /// The dead-letter topic.
    pub fn dead_letter_topic(&self) -> String {
        format!("{}-dead-letter", self.topic)
    }

    fn variables(&self) -> [(&'static str, String); 4] {
        [
            ("KAFKA_TOPIC", self.topic.clone()),
            ("CLICKHOUSE_DATABASE", self.database.clone()),
            ("PROJECTOR_GROUP_ID", self.topic.clone()),
            ("PROJECTOR_DEAD_LETTER_TOPIC", self.dead_letter_topic()),
        ]
    }
}

/// Components a benchmark moved (onto a scratch topic and database) or stopped: call
/// [`Self::restore`] when done, which restarts them on the defaults. Dropped without it
/// (an error, an interruption), it restarts them anyway, blocking.
pub struct Restore {
    stack: Stack,
    components: Vec<Component>,
    restored: bool,
}

impl Restore {
    /// Restarts the components on the defaults.
    pub async fn restore(mut self) -> Result<(), BenchError> {
        self.restored = true;
        for component in &self.components {
            tracing::info!(component = component.name(), "restarting on the defaults");
            self.stack
                .stack_script(Action::Restart, *component, None)
                .await?;
        }
        Ok(())
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        if self.restored {
            return;
        }
        for component in &self.components {
            tracing::warn!(
                component = component.name(),
                "restarting on the defaults after a failure"
            );
            let status = self
                .stack
                .control
                .script_blocking(Action::Restart, *component)
                .env_clear_scratch()
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            if !matches!(status, Ok(status) if status.success()) {
                tracing::error!(
                    component = component.name(),
                    "could not restart on the defaults: run make up"
                );
            }
        }
    }
}

/// Removing the scratch variables from a command's environment.
trait ClearScratch {
    fn env_clear_scratch(&mut self) -> &mut Self;
}

impl ClearScratch for std::process::Command {
    fn env_clear_scratch(&mut self) -> &mut Self {
        for name in SCRATCH_VARIABLES {
            self.env_remove(name);
        }
        self
    }
}

impl ClearScratch for tokio::process::Command {
    fn env_clear_scratch(&mut self) -> &mut Self {
        for name in SCRATCH_VARIABLES {
            self.env_remove(name);
        }
        self
    }
}

/// The local stack.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Where everything is.
    pub settings: StackSettings,
    control: stack_control::Stack,
    http: reqwest::Client,
}

impl Stack {
    /// The stack described by `settings`.
    pub fn new(settings: StackSettings) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(BenchError::http("building the client"))?;
        let control = stack_control::Stack::new(&settings.repo_root);
        Ok(Self {
            settings,
            control,
            http,
        })
    }

    /// A plain HTTP client (10 s timeout) for the benchmark's own requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `.stack/` of the repository.
    pub fn stack_dir(&self) -> PathBuf {
        self.control.stack_dir()
    }

    /// `.stack/logs/`.
    pub fn logs_dir(&self) -> PathBuf {
        self.control.logs_dir()
    }

    /// A release binary of the workspace (`target/release/<name>`).
    pub fn binary(&self, name: &str) -> PathBuf {
        self.settings
            .repo_root
            .join("target")
            .join("release")
            .join(name)
    }

    /// The live pid of `component`, from its pid file, if its command line is that
    /// component's ([`stack_control::Stack::pid`]).
    pub fn pid(&self, component: Component) -> Option<u32> {
        self.control.pid(component).ok()
    }

    /// The pid of `component`, or an error saying the stack is not up.
    pub fn require_pid(&self, component: Component) -> Result<u32, BenchError> {
        self.pid(component).ok_or_else(|| {
            BenchError::Stack(format!("{} is not running: run make up", component.name()))
        })
    }

    /// ClickHouse settings for `database`.
    pub fn clickhouse(&self, database: &str) -> ClickHouseSettings {
        ClickHouseSettings {
            database: database.to_owned(),
            ..self.settings.clickhouse.clone()
        }
    }

    /// A ClickHouse client of `database`.
    pub fn clickhouse_client(&self, database: &str) -> clickhouse::Client {
        service_kit::clickhouse::client(&self.clickhouse(database))
    }

    /// Kafka settings for `topic`, the bundled schemas.
    pub fn kafka(&self, topic: &str) -> KafkaSettings {
        KafkaSettings {
            brokers: self.settings.brokers.clone(),
            topic: topic.to_owned(),
            schema_registry_url: None,
        }
    }

    /// Runs `scripts/stack.sh <action> <component>`, with the scratch variables of
    /// `scratch` set (or removed when `None`).
    pub async fn stack_script(
        &self,
        action: Action,
        component: Component,
        scratch: Option<&Scratch>,
    ) -> Result<(), BenchError> {
        self.control
            .run_script(action, component, ScriptOutput::Captured, |command| {
                command.env_clear_scratch();
                if let Some(scratch) = scratch {
                    command.envs(scratch.variables());
                }
            })
            .await
            .map_err(BenchError::from)
    }

    /// Restarts the three services on `scratch`'s topic and database (created by the
    /// caller), and waits until they are ready.
    pub async fn services_on(&self, scratch: &Scratch) -> Result<Restore, BenchError> {
        tracing::info!(topic = %scratch.topic, database = %scratch.database, "services on a scratch topic and database");
        let guard = Restore {
            stack: self.clone(),
            components: SERVICES.to_vec(),
            restored: false,
        };
        for service in SERVICES {
            self.stack_script(Action::Restart, service, Some(scratch))
                .await?;
        }
        Ok(guard)
    }

    /// Creates the scratch topic `topic` with `partitions` partitions, its records kept
    /// [`SCRATCH_RETENTION_MS`] (and is content if it exists).
    pub async fn create_topic(&self, topic: &str, partitions: u32) -> Result<(), BenchError> {
        self.create_topic_with_retention(topic, partitions, Some(SCRATCH_RETENTION_MS))
            .await
    }

    /// Creates `topic` with `partitions` partitions, its records kept `retention_ms`
    /// (`None`: the broker's default), and is content if it exists (with whatever
    /// retention it was created with: Tansu 0.6 cannot alter a topic's configuration).
    pub async fn create_topic_with_retention(
        &self,
        topic: &str,
        partitions: u32,
        retention_ms: Option<u64>,
    ) -> Result<(), BenchError> {
        let broker = format!("tcp://{}", self.settings.brokers);
        let mut command = tokio::process::Command::new(&self.settings.tansu_bin);
        command
            .args(["topic", "create", topic, "--partitions"])
            .arg(partitions.to_string())
            .args(["--broker", &broker]);
        if let Some(retention_ms) = retention_ms {
            command
                .args(["--config", "cleanup.policy=delete", "--config"])
                .arg(format!("retention.ms={retention_ms}"));
        }
        let output = command.output().await.map_err(BenchError::io(format!(
            "running {} topic create",
            self.settings.tansu_bin.display()
        )))?;
        let already = String::from_utf8_lossy(&output.stderr).contains("already exists")
            || String::from_utf8_lossy(&output.stdout).contains("already exists");
        if output.status.success() || already {
            Ok(())
        } else {
            Err(BenchError::Command {
                command: format!("tansu topic create {topic}"),
                detail: describe_failure(&output),
            })
        }
    }

    /// Waits until `url` answers 200, at most `timeout`.
    pub async fn wait_ready(&self, url: &str, timeout: Duration) -> Result<(), BenchError> {
        let started = Instant::now();
        loop {
            if let Ok(response) = self.http.get(url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > timeout {
                return Err(BenchError::Stack(format!(
                    "{url} not ready after {timeout:?}: is the stack up (make up)?"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Checks that the ClickHouse and the broker the settings name are this stack's,
    /// whose pids the benchmark reads: ClickHouse's default disk lies under `.stack/`,
    /// and the broker's command line listens on the brokers' address. A shell missing
    /// the moved ports of a second stack would otherwise measure (and write scratch
    /// topics into) the first one.
    pub async fn check_own(&self) -> Result<(), BenchError> {
        let server = service_kit::clickhouse::server_client(&self.settings.clickhouse);
        let disk: String = server
            .query("SELECT path FROM system.disks WHERE name = 'default'")
            .fetch_one()
            .await
            .map_err(BenchError::clickhouse("the server's data path"))?;
        let stack = std::fs::canonicalize(self.stack_dir()).map_err(BenchError::io(format!(
            "finding {}",
            self.stack_dir().display()
        )))?;
        if !Path::new(&disk).starts_with(&stack) {
            return Err(BenchError::Stack(format!(
                "the ClickHouse at {} keeps its data in {disk}, not under {}: it is another stack's \
                 (set CLICKHOUSE_URL, KAFKA_BROKERS and the service URLs for this one)",
                self.settings.clickhouse.url,
                stack.display()
            )));
        }
        let broker = self.require_pid(Component::Tansu)?;
        let command_line = crate::process::command_line(broker).ok_or_else(|| {
            BenchError::Stack(format!(
                "cannot read the command line of the broker (pid {broker})"
            ))
        })?;
        let listener = format!("tcp://{}", self.settings.brokers);
        if !command_line.contains(&listener) {
            return Err(BenchError::Stack(format!(
                "this stack's broker (pid {broker}) does not listen on {listener}: KAFKA_BROKERS names another stack's"
            )));
        }
        Ok(())
    }

    /// Checks that each service URL is where this stack's service listens (the
    /// `<NAME>_LISTEN` its process was started with, from `/proc/<pid>/environ`), so load
    /// never goes to another stack's service while this one's CPU is read.
    pub fn check_service_urls(&self) -> Result<(), BenchError> {
        for (component, url) in [
            (Component::WriteApi, &self.settings.write_api_url),
            (Component::ReadApi, &self.settings.read_api_url),
            (Component::Projector, &self.settings.projector_url),
        ] {
            let pid = self.require_pid(component)?;
            let environ = std::fs::read(format!("/proc/{pid}/environ")).map_err(BenchError::io(
                format!("reading the environment of {}", component.name()),
            ))?;
            let variable = format!(
                "{}_LISTEN",
                component.name().to_uppercase().replace('-', "_")
            );
            if let Some(listen) = listen_address(&environ, &variable) {
                if !url_is_at(url, &listen) {
                    return Err(BenchError::Stack(format!(
                        "{} (pid {pid}) listens on {listen}, not at {url}: the URL names another stack's",
                        component.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Checks that the whole stack answers (`make up` first) and is this one
    /// ([`Self::check_own`], [`Self::check_service_urls`]).
    pub async fn check_up(&self) -> Result<(), BenchError> {
        for component in COMPONENTS {
            self.require_pid(component)?;
        }
        self.check_own().await?;
        self.check_service_urls()?;
        let quick = Duration::from_secs(5);
        self.wait_ready(&format!("{}/health", self.settings.front_door_url), quick)
            .await?;
        for url in [
            &self.settings.write_api_url,
            &self.settings.read_api_url,
            &self.settings.projector_url,
        ] {
            self.wait_ready(&format!("{url}/ready"), quick).await?;
        }
        Ok(())
    }
}

/// The value of `variable` in a process environment (`/proc/<pid>/environ`: `NAME=value`
/// entries separated by NUL bytes); `None` when it is not set.
pub fn listen_address(environ: &[u8], variable: &str) -> Option<String> {
    environ
        .split(|byte| *byte == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| {
            entry
                .strip_prefix(variable)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
        })
}

/// Whether `url` (`http://host:port`, maybe with a path) points at `listen`
/// (`host:port`); `0.0.0.0` listens on every address.
pub fn url_is_at(url: &str, listen: &str) -> bool {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let port = |address: &str| {
        address
            .rsplit_once(':')
            .map(|(host, port)| (host.to_owned(), port.to_owned()))
    };
    match (port(authority), port(listen)) {
        (Some((url_host, url_port)), Some((listen_host, listen_port))) => {
            url_port == listen_port
                && (url_host == listen_host
                    || listen_host == "0.0.0.0"
                    || (url_host == "localhost" && listen_host == "127.0.0.1"))
        }
        _ => false,
    }
}

/// Exit status and the end of stderr/stdout of a failed command.
fn describe_failure(output: &std::process::Output) -> String {
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    format!(
        "{}\n{}{}",
        output.status,
        tail(&output.stderr),
        tail(&output.stdout)
    )
}

/// A port nothing listens on right now.
pub fn free_port() -> Result<u16, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(BenchError::io("finding a free port"))
}

/// Whether `path` exists and is executable by someone.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_address_is_read_from_a_process_environment() {
        let environ = b"PATH=/bin\0WRITE_API_LISTEN=127.0.0.1:18081\0READ_API_LISTEN_X=1\0";
        assert_eq!(
            listen_address(environ, "WRITE_API_LISTEN").as_deref(),
            Some("127.0.0.1:18081")
        );
        assert_eq!(listen_address(environ, "READ_API_LISTEN"), None);
    }

    #[test]
    fn a_url_is_at_the_address_its_service_listens_on() {
        assert!(url_is_at("http://127.0.0.1:18081", "127.0.0.1:18081"));
        assert!(url_is_at("http://127.0.0.1:18081/", "0.0.0.0:18081"));
        assert!(url_is_at("http://localhost:8081", "127.0.0.1:8081"));
        assert!(!url_is_at("http://127.0.0.1:8081", "127.0.0.1:18081"));
        assert!(!url_is_at("http://10.0.0.2:18081", "127.0.0.1:18081"));
        assert!(!url_is_at("not a url", "127.0.0.1:18081"));
    }
}
