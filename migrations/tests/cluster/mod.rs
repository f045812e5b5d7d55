//! A private ClickHouse cluster for one test: ZooKeeper (Debian's `zookeeper`
//! package, installed by scripts/install.sh) and three `clickhouse-server` processes
//! on free local ports, all under one temporary directory.
//!
//! Cluster `allezon_test`: shard 1 has replicas `a` and `b`, shard 2 has replica `c`,
//! so one cluster shows both replication and sharding. Dropping the cluster kills
//! every process it started and deletes the directory (kept, and its path printed,
//! when the test failed).

use clickhouse::Client;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster's name in `remote_servers`.
pub(crate) const NAME: &str = "allezon_test";

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One server of the cluster.
pub(crate) struct Server {
    /// `{shard}` macro.
    pub(crate) shard: u32,
    /// `{replica}` macro.
    pub(crate) replica: &'static str,
    /// HTTP endpoint.
    pub(crate) url: String,
    tcp_port: u16,
    interserver_port: u16,
    process: Option<Child>,
}

/// ZooKeeper and the servers; everything stops on drop.
pub(crate) struct TestCluster {
    dir: PathBuf,
    zookeeper: Option<Child>,
    /// Shard 1 replica a, shard 1 replica b, shard 2 replica c.
    pub(crate) servers: Vec<Server>,
}

impl TestCluster {
    /// Starts ZooKeeper, then the three servers, and waits until each answers.
    pub(crate) async fn start() -> Self {
        assert!(
            Path::new(ZOOKEEPER_JAR).exists(),
            "{ZOOKEEPER_JAR} missing: install the zookeeper package (scripts/install.sh)"
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("allezon-cluster-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let mut ports = free_ports(10).into_iter();
        let mut port = || ports.next().expect("enough free ports");
        let zookeeper_port = port();
        let mut cluster = Self {
            dir,
            zookeeper: None,
            servers: [(1, "a"), (1, "b"), (2, "c")]
                .into_iter()
                .map(|(shard, replica)| {
                    let http_port = port();
                    Server {
                        shard,
                        replica,
                        url: format!("http://127.0.0.1:{http_port}"),
                        tcp_port: port(),
                        interserver_port: port(),
                        process: None,
                    }
                })
                .collect(),
        };

        let zookeeper_dir = cluster.dir.join("zookeeper");
        cluster.zookeeper = Some(spawn(
            Command::new("java")
                .arg("-Xmx256m")
                .arg("-Dzookeeper.admin.enableServer=false")
                .arg("-cp")
                .arg(ZOOKEEPER_JAR)
                .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
                .arg(zookeeper_port.to_string())
                .arg(&zookeeper_dir),
            &cluster.dir.join("zookeeper.log"),
        ));
        // The port opens before the server serves: a server still starting closes
        // ClickHouse's handshake, and ClickHouse 18.16 gives up on it. `srvr` reports
        // the mode only once requests are served.
        wait_until("zookeeper", || zookeeper_serves(zookeeper_port)).await;

        let remote_servers = cluster.remote_servers();
        let users =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/clickhouse/users.xml");
        for index in 0..cluster.servers.len() {
            let server_dir = cluster.dir.join(cluster.servers[index].replica);
            for sub in ["data", "tmp", "user_files", "format_schemas"] {
                std::fs::create_dir_all(server_dir.join(sub)).expect("server dir");
            }
            std::fs::copy(&users, server_dir.join("users.xml")).expect("users.xml copied");
            let config = server_dir.join("config.xml");
            std::fs::write(
                &config,
                server_config(
                    &cluster.servers[index],
                    &server_dir,
                    zookeeper_port,
                    &remote_servers,
                ),
            )
            .expect("config written");
            cluster.servers[index].process = Some(spawn(
                Command::new("clickhouse-server")
                    .arg(format!("--config-file={}", config.display())),
                &server_dir.join("stdout.log"),
            ));
        }
        // 18.16 accepts queries a moment before its distributed DDL worker has a
        // ZooKeeper session, and an ON CLUSTER query in that moment crashes the server
        // (null session): wait for the worker's first pass over the queue (a debug line).
        for server in &cluster.servers {
            let client = server.client();
            let log = cluster.dir.join(server.replica).join("server.log");
            wait_until(server.replica, || async {
                client.query("SELECT 1").fetch_one::<u8>().await.is_ok()
                    && std::fs::read_to_string(&log)
                        .is_ok_and(|text| text.contains("DDLWorker: Processing tasks"))
            })
            .await;
        }
        cluster
    }

    /// `<remote_servers>` entry: one `<shard>` per shard, internal replication on
    /// (an insert goes to one replica, ReplicatedMergeTree copies it to the others).
    fn remote_servers(&self) -> String {
        let mut shards = String::new();
        for shard in [1, 2] {
            shards.push_str("<shard><internal_replication>true</internal_replication>");
            for server in self.servers.iter().filter(|server| server.shard == shard) {
                shards.push_str(&format!(
                    "<replica><host>127.0.0.1</host><port>{}</port></replica>",
                    server.tcp_port
                ));
            }
            shards.push_str("</shard>");
        }
        format!("<remote_servers><{NAME}>{shards}</{NAME}></remote_servers>")
    }
}

impl Server {
    /// A client of this server (no database selected).
    pub(crate) fn client(&self) -> Client {
        Client::default()
            .with_url(&self.url)
            .with_user("default")
            .with_validation(false)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let processes = self
            .servers
            .iter_mut()
            .filter_map(|server| server.process.as_mut())
            .chain(self.zookeeper.as_mut());
        for process in processes {
            let _ = process.kill();
            let _ = process.wait();
        }
        if std::thread::panicking() {
            eprintln!("cluster logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn server_config(server: &Server, dir: &Path, zookeeper_port: u16, remote_servers: &str) -> String {
    let dir = dir.display();
    let http_port = server.url.rsplit(':').next().unwrap_or_default();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger><level>debug</level><log>{dir}/server.log</log><errorlog>{dir}/err.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <timezone>UTC</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mlock_executable>false</mlock_executable>
    <zookeeper><node><host>127.0.0.1</host><port>{zookeeper_port}</port></node></zookeeper>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
    <macros><shard>{shard}</shard><replica>{replica}</replica></macros>
    {remote_servers}
</yandex>
"#,
        tcp_port = server.tcp_port,
        interserver_port = server.interserver_port,
        shard = server.shard,
        replica = server.replica,
    )
}

fn spawn(command: &mut Command, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    let log_err = log.try_clone().expect("log file");
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"))
}

/// Whether ZooKeeper answers its `srvr` command with its mode (it serves requests).
async fn zookeeper_serves(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut answer = String::new();
    stream.write_all(b"srvr").await.is_ok()
        && stream.read_to_string(&mut answer).await.is_ok()
        && answer.contains("Mode:")
}

/// `count` distinct free local ports (held until all are found, then released).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("bound").port())
        .collect()
}

async fn wait_until<F, Fut>(what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !ready().await {
        assert!(
            started.elapsed() < START_TIMEOUT,
            "{what} not ready after {START_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
