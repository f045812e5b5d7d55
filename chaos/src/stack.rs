//! The local stack's components as processes. A component's pid comes from the pid
//! file `scripts/stack.sh` writes (`.stack/run/<name>.pid`) and is checked against
//! `/proc/<pid>/cmdline` as `scripts/lib.sh` does, so a recycled pid is never signalled.
//! A component is restarted with `scripts/stack.sh start <name>`, which returns once it
//! is healthy; its output goes to `.stack/logs/chaos.log`.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How long a killed process may take to disappear.
const DEATH_TIMEOUT: Duration = Duration::from_secs(10);

/// A component of the local stack that the runner may kill or freeze.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// ClickHouse (chdb's clickhouse-local serving HTTP, in a Python process).
    ClickHouse,
    /// The Tansu broker.
    Tansu,
    /// write-api.
    WriteApi,
    /// read-api.
    ReadApi,
    /// The projector (instance 0 on a stack with several).
    Projector,
    /// The second projector instance of the sharded stack (`make cluster-up`).
    Projector1,
    /// The second shard's ClickHouse server of the sharded stack (`make cluster-up`).
    ClickHouse2,
}

impl Component {
    /// Every component.
    pub const ALL: [Self; 5] = [
        Self::ClickHouse,
        Self::Tansu,
        Self::WriteApi,
        Self::ReadApi,
        Self::Projector,
    ];

    /// The components only a sharded stack has (`SHARDS=2 PROJECTORS=2`).
    pub const SHARDED: [Self; 2] = [Self::Projector1, Self::ClickHouse2];

    /// Its name in `scripts/stack.sh` and in the pid file.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ClickHouse => "clickhouse",
            Self::Tansu => "tansu",
            Self::WriteApi => "write-api",
            Self::ReadApi => "read-api",
            Self::Projector => "projector",
            Self::Projector1 => "projector-1",
            Self::ClickHouse2 => "clickhouse-2",
        }
    }

    /// What its command line must contain (as `exe_of` in `scripts/lib.sh`).
    const fn command_mark(self) -> &'static str {
        match self {
            Self::ClickHouse | Self::ClickHouse2 => "serve.py",
            Self::Projector1 => "projector",
            other => other.name(),
        }
    }

    /// The component named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::SHARDED)
            .find(|component| component.name() == name)
    }
}

/// Why the stack could not be acted on.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// No live process answers to the component's pid file.
    #[error("{component} is not running (no live pid in {pid_file})")]
    NotRunning {
        /// The component.
        component: &'static str,
        /// Where its pid was looked for.
        pid_file: PathBuf,
    },
    /// A signal could not be sent.
    #[error("cannot send {signal} to {component}")]
    Signal {
        /// The component.
        component: &'static str,
        /// The signal.
        signal: Signal,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// The process outlived SIGKILL.
    #[error("{component} still alive {DEATH_TIMEOUT:?} after SIGKILL")]
    Undead {
        /// The component.
        component: &'static str,
    },
    /// `scripts/stack.sh` could not be run.
    #[error("cannot run scripts/stack.sh for {component}")]
    Script {
        /// The component.
        component: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `scripts/stack.sh start` failed.
    #[error("scripts/stack.sh start {component} failed ({status}); see {log}")]
    StartFailed {
        /// The component.
        component: &'static str,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Where its output went.
        log: PathBuf,
    },
}

/// The local stack of a checkout.
#[derive(Debug, Clone)]
pub struct Stack {
    root: PathBuf,
}

impl Stack {
    /// The stack of the checkout at `root` (its `scripts/` and `.stack/`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The checkout.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn pid_file(&self, component: Component) -> PathBuf {
        self.root
            .join(".stack/run")
            .join(format!("{}.pid", component.name()))
    }

    /// Where restarts write their output.
    pub fn log_file(&self) -> PathBuf {
        self.root.join(".stack/logs/chaos.log")
    }

    /// The pid `component` runs under.
    pub fn pid(&self, component: Component) -> Result<Pid, StackError> {
        let pid_file = self.pid_file(component);
        let not_running = || StackError::NotRunning {
            component: component.name(),
            pid_file: pid_file.clone(),
        };
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(not_running)?;
        let command = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|_| not_running())?;
        let command = String::from_utf8_lossy(&command);
        if !command.contains(component.command_mark()) || is_zombie(pid) {
            return Err(not_running());
        }
        Ok(Pid::from_raw(pid))
    }

    /// The stack's components: every stack's, and those of a sharded stack that
    /// `scripts/stack.sh` started here (a pid file says so).
    pub fn components(&self) -> Vec<Component> {
        Component::ALL
            .into_iter()
            .chain(
                Component::SHARDED
                    .into_iter()
                    .filter(|component| self.pid_file(*component).exists()),
            )
            .collect()
    }

    /// Whether `component` runs.
    pub fn is_running(&self, component: Component) -> bool {
        self.pid(component).is_ok()
    }

    /// Sends `signal` to `component`.
    pub fn signal(&self, component: Component, signal: Signal) -> Result<Pid, StackError> {
        let pid = self.pid(component)?;
        kill(pid, signal).map_err(|source| StackError::Signal {
            component: component.name(),
            signal,
            source,
        })?;
        Ok(pid)
    }

    /// SIGKILL, then waits until the process is gone.
    pub async fn kill(&self, component: Component) -> Result<(), StackError> {
        let pid = self.signal(component, Signal::SIGKILL)?;
        let started = Instant::now();
        while started.elapsed() < DEATH_TIMEOUT {
            if kill(pid, None).is_err() || is_gone(pid.as_raw()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(StackError::Undead {
            component: component.name(),
        })
    }

    /// `scripts/stack.sh start <component>`: returns once the component is healthy.
    /// The services log at their usual level whatever this process's `RUST_LOG` says.
    pub async fn start(&self, component: Component) -> Result<(), StackError> {
        let script_error = |source| StackError::Script {
            component: component.name(),
            source,
        };
        let log_path = self.log_file();
        if let Some(folder) = log_path.parent() {
            std::fs::create_dir_all(folder).map_err(script_error)?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(script_error)?;
        let status = tokio::process::Command::new(self.root.join("scripts/stack.sh"))
            .args(["start", component.name()])
            .current_dir(&self.root)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(script_error)?)
            .stderr(log)
            .status()
            .await
            .map_err(script_error)?;
        if status.success() {
            Ok(())
        } else {
            Err(StackError::StartFailed {
                component: component.name(),
                status,
                log: log_path,
            })
        }
    }
}

/// Whether every thread of `pid` has exited (a zombie with no thread left). The main
/// thread of a killed multi-threaded process shows as a zombie while its other threads
/// are still exiting, and the process's files (its listening sockets) are closed only
/// when the last one has: a restart before then finds its port taken.
fn is_gone(pid: i32) -> bool {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    is_zombie(pid) && threads <= 1
}

/// Whether `pid` is a zombie (dead, not yet reaped).
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses.
            let after_name = stat.rsplit_once(')')?.1;
            after_name
                .split_whitespace()
                .next()
                .map(|state| state == "Z")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for component in Component::ALL.into_iter().chain(Component::SHARDED) {
            assert_eq!(Component::parse(component.name()), Some(component));
        }
        assert_eq!(Component::parse("nginx"), None);
    }

    #[test]
    fn a_missing_pid_file_means_not_running() {
        let stack = Stack::new("/nonexistent");
        assert!(matches!(
            stack.pid(Component::Projector),
            Err(StackError::NotRunning { .. })
        ));
        assert_eq!(stack.components(), Component::ALL.to_vec());
        assert!(!is_zombie(i32::MAX));
        assert!(!is_gone(i32::MAX));
    }
}
