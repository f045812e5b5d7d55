//! A checkout's stack: pid files checked against `/proc`, signals, `scripts/stack.sh`.

use crate::process;
use crate::Component;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How long a killed process may take to disappear.
const DEATH_TIMEOUT: Duration = Duration::from_secs(10);

/// How many lines of a failed script's output its error keeps.
const OUTPUT_TAIL_LINES: usize = 15;

/// Why the stack could not be acted on.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// No live process of the component answers to its pid file (no file, no such
    /// process, a zombie, or a recycled pid running another program).
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
    /// `scripts/stack.sh` could not be run (or its log not opened).
    #[error("cannot run {command}")]
    Script {
        /// The command line (`scripts/stack.sh start projector`).
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `scripts/stack.sh` failed.
    #[error("{command} failed ({status}){detail}")]
    ScriptFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Where its output went, or the end of it.
        detail: String,
    },
}

/// What `scripts/stack.sh` is asked to do. `start` returns once the component is
/// healthy; `stop` sends SIGTERM, then SIGKILL after `STOP_TIMEOUT`; data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `restart`: stop, then start.
    Restart,
}

impl Action {
    /// The script's word for it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

/// Where the output of `scripts/stack.sh` goes.
#[derive(Debug, Clone)]
pub enum ScriptOutput {
    /// Kept; a failure's error holds its last lines.
    Captured,
    /// Appended to this file (created with its folder if need be); a failure's error
    /// points at it.
    AppendTo(PathBuf),
}

/// The local stack of a checkout (its `scripts/` and `.stack/`).
#[derive(Debug, Clone)]
pub struct Stack {
    root: PathBuf,
}

impl Stack {
    /// The stack of the checkout at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The checkout.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.stack/` of the checkout.
    pub fn stack_dir(&self) -> PathBuf {
        self.root.join(".stack")
    }

    /// `.stack/logs/`.
    pub fn logs_dir(&self) -> PathBuf {
        self.stack_dir().join("logs")
    }

    /// `.stack/run/<name>.pid`, where `scripts/lib.sh` records `component`'s pid.
    pub fn pid_file(&self, component: Component) -> PathBuf {
        self.stack_dir()
            .join("run")
            .join(format!("{}.pid", component.name()))
    }

    /// `scripts/stack.sh`.
    pub fn script_path(&self) -> PathBuf {
        self.root.join("scripts").join("stack.sh")
    }

    /// The pid `component` runs under: the one in its pid file, if that process lives,
    /// is not a zombie, and its command line is `component`'s ([`Component::runs_in`]).
    pub fn pid(&self, component: Component) -> Result<u32, StackError> {
        let pid_file = self.pid_file(component);
        live_pid(&pid_file, component.command_mark()).ok_or(StackError::NotRunning {
            component: component.name(),
            pid_file,
        })
    }

    /// Whether `component` runs.
    pub fn is_running(&self, component: Component) -> bool {
        self.pid(component).is_ok()
    }

    /// The sharded stack's components that `scripts/stack.sh` started here (a pid file
    /// says so, whether or not the process still runs).
    pub fn sharded_components(&self) -> Vec<Component> {
        Component::sharded()
            .filter(|component| self.pid_file(*component).exists())
            .collect()
    }

    /// Sends `signal` to `component`, once its pid is checked ([`Self::pid`]).
    pub fn signal(&self, component: Component, signal: Signal) -> Result<u32, StackError> {
        let pid = self.pid(component)?;
        kill(as_nix(pid), signal).map_err(|source| StackError::Signal {
            component: component.name(),
            signal,
            source,
        })?;
        Ok(pid)
    }

    /// SIGKILL, then waits until the process is gone (every thread, so its ports are
    /// free for a restart).
    pub async fn kill(&self, component: Component) -> Result<(), StackError> {
        let pid = self.signal(component, Signal::SIGKILL)?;
        let started = Instant::now();
        while started.elapsed() < DEATH_TIMEOUT {
            if kill(as_nix(pid), None).is_err() || process::is_gone(pid) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(StackError::Undead {
            component: component.name(),
        })
    }

    /// `scripts/stack.sh <action> <component>`, ready to run: the checkout as working
    /// directory, stdin closed. The caller adds environment and output.
    pub fn script(&self, action: Action, component: Component) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(self.script_path());
        command
            .args([action.as_str(), component.name()])
            .current_dir(&self.root)
            .stdin(Stdio::null());
        command
    }

    /// [`Self::script`] for blocking use (a guard's `Drop`, where no runtime may run).
    pub fn script_blocking(&self, action: Action, component: Component) -> std::process::Command {
        let mut command = std::process::Command::new(self.script_path());
        command
            .args([action.as_str(), component.name()])
            .current_dir(&self.root)
            .stdin(Stdio::null());
        command
    }

    /// Runs `scripts/stack.sh <action> <component>` to its end, its environment first
    /// adjusted by `configure`, its output where `output` says.
    pub async fn run_script(
        &self,
        action: Action,
        component: Component,
        output: ScriptOutput,
        configure: impl FnOnce(&mut tokio::process::Command),
    ) -> Result<(), StackError> {
        let line = format!("scripts/stack.sh {} {}", action.as_str(), component.name());
        let cannot_run = |source| StackError::Script {
            command: line.clone(),
            source,
        };
        let mut command = self.script(action, component);
        configure(&mut command);
        let (status, detail) = match output {
            ScriptOutput::Captured => {
                let output = command.output().await.map_err(cannot_run)?;
                let detail = format!(
                    ":\n{}{}",
                    tail(&output.stderr, OUTPUT_TAIL_LINES),
                    tail(&output.stdout, OUTPUT_TAIL_LINES)
                );
                (output.status, detail)
            }
            ScriptOutput::AppendTo(path) => {
                if let Some(folder) = path.parent() {
                    std::fs::create_dir_all(folder).map_err(cannot_run)?;
                }
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(cannot_run)?;
                let status = command
                    .stdout(log.try_clone().map_err(cannot_run)?)
                    .stderr(log)
                    .status()
                    .await
                    .map_err(cannot_run)?;
                (status, format!("; see {}", path.display()))
            }
        };
        if status.success() {
            Ok(())
        } else {
            Err(StackError::ScriptFailed {
                command: line,
                status,
                detail,
            })
        }
    }
}

/// The pid in `pid_file` if that process lives, is not a zombie, and its command line
/// contains `mark`.
fn live_pid(pid_file: &Path, mark: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // 0 and what does not fit a pid_t would signal a process group or nothing.
    if pid == 0 || i32::try_from(pid).is_err() {
        return None;
    }
    let command_line = process::command_line(pid)?;
    (command_line.contains(mark) && !process::is_zombie(pid)).then_some(pid)
}

/// A checked pid (1 to `i32::MAX`, [`live_pid`]) as nix takes it.
fn as_nix(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// The last `lines` lines of a command's output.
fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pid file under a fresh folder of the temporary directory.
    fn pid_file(name: &str, contents: &str) -> PathBuf {
        let folder =
            std::env::temp_dir().join(format!("stack-control-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("temporary folder");
        let file = folder.join("component.pid");
        std::fs::write(&file, contents).expect("pid file");
        file
    }

    #[test]
    fn a_pid_is_trusted_only_when_its_command_line_is_the_components() {
        let own = pid_file("own", &format!("{}\n", std::process::id()));
        // The test binary is target/.../deps/stack_control-<hash>.
        assert_eq!(live_pid(&own, "stack_control"), Some(std::process::id()));
        assert_eq!(live_pid(&own, Component::Projector.command_mark()), None);
        assert_eq!(live_pid(&pid_file("zero", "0"), "stack_control"), None);
        assert_eq!(
            live_pid(&pid_file("garbage", "12ab"), "stack_control"),
            None
        );
        assert_eq!(live_pid(&pid_file("huge", "4294967295"), ""), None);
        for name in ["own", "zero", "garbage", "huge"] {
            if let Some(folder) = pid_file(name, "").parent() {
                let _ = std::fs::remove_dir_all(folder);
            }
        }
    }

    #[test]
    fn a_missing_pid_file_means_not_running() {
        let stack = Stack::new("/nonexistent");
        assert!(matches!(
            stack.pid(Component::Projector),
            Err(StackError::NotRunning { .. })
        ));
        assert!(matches!(
            stack.signal(Component::ClickHouse, Signal::SIGCONT),
            Err(StackError::NotRunning { .. })
        ));
        assert!(stack.sharded_components().is_empty());
        assert_eq!(
            stack.pid_file(Component::Nginx),
            Path::new("/nonexistent/.stack/run/nginx.pid")
        );
    }

    #[test]
    fn a_failed_script_keeps_the_end_of_its_output() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail(b"", 2), "");
    }
}
