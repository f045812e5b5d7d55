//! A ClickHouse server of the test's own (ClickHouse 26.9 from chdb-core, exactly as the
//! local stack runs it: `deploy/local/clickhouse/serve.py` and `config.xml`), on free
//! ports and a temporary directory, that the test may configure (a cluster's
//! `remote_servers`), freeze or kill without disturbing the shared stack.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A private ClickHouse server; killed (and its directory removed unless the test
/// failed) on drop.
pub struct PrivateClickHouse {
    dir: PathBuf,
    http_port: u16,
    tcp_port: u16,
    process: Option<Child>,
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python of the local stack's ClickHouse venv (`scripts/install.sh` creates it);
/// `CLICKHOUSE_PYTHON` overrides it.
fn python() -> PathBuf {
    std::env::var("CLICKHOUSE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repository().join(".stack/clickhouse/venv/bin/python"))
}

/// `count` distinct free local ports.
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("bound").port())
        .collect()
}

impl PrivateClickHouse {
    /// Starts a server on `http_port`/`tcp_port` with `extra_config` (XML elements)
    /// added to the local stack's configuration, and waits until it answers.
    pub async fn start(name: &str, http_port: u16, tcp_port: u16, extra_config: &str) -> Self {
        let dir = std::env::temp_dir().join(crate::unique_name(&format!("clickhouse_{name}")));
        for sub in ["logs", "clickhouse/data"] {
            std::fs::create_dir_all(dir.join(sub)).expect("server dir");
        }
        let deploy = repository().join("deploy/local/clickhouse");
        let template = std::fs::read_to_string(deploy.join("config.xml")).expect("config.xml");
        let config = template
            .replace("@STACK@", &dir.display().to_string())
            .replace("@HTTP_PORT@", &http_port.to_string())
            .replace("@TCP_PORT@", &tcp_port.to_string())
            .replace("</clickhouse>", &format!("{extra_config}\n</clickhouse>"));
        let config_dir = dir.join("clickhouse");
        std::fs::write(config_dir.join("config.xml"), config).expect("config written");
        std::fs::copy(deploy.join("users.xml"), config_dir.join("users.xml")).expect("users.xml");
        let log = std::fs::File::create(dir.join("logs/stdout.log")).expect("log file");
        let process = Command::new(python())
            .arg(deploy.join("serve.py"))
            .arg(&config_dir)
            .arg(config_dir.join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start clickhouse ({}): {error}", python().display())
            });
        let server = Self {
            dir,
            http_port,
            tcp_port,
            process: Some(process),
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let http = self
                .client()
                .query("SELECT 1")
                .fetch_one::<u8>()
                .await
                .is_ok();
            let tcp = std::net::TcpStream::connect(("127.0.0.1", self.tcp_port)).is_ok();
            if http && tcp {
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "private clickhouse not ready after {START_TIMEOUT:?}; see {}",
                self.dir.join("logs").display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The HTTP endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The native-protocol port (what `remote_servers` names).
    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// The server's process id (to freeze it with SIGSTOP, for instance).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::id)
    }

    /// A client of this server (no database selected).
    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default()
            .with_url(self.url())
            .with_user("default")
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        if std::thread::panicking() {
            eprintln!("private clickhouse kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
