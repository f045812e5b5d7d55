//! The local stack as chaos disturbs it. Processes, pid files (checked against
//! `/proc/<pid>/cmdline`), signals and `scripts/stack.sh` are [`stack_control`]'s; what
//! is chaos's own is which components a fault may hit ([`TARGETS`], and a sharded
//! stack's extra shards and projector instances), and that restarts run with the
//! services' usual log level and write their output to `.stack/logs/chaos.log`.

use stack_control::{Action, ScriptOutput};
pub use stack_control::{Component, Signal, StackError};
use std::path::{Path, PathBuf};

/// The components of every stack a fault may hit (not nginx, not the archiver).
pub const TARGETS: [Component; 5] = [
    Component::ClickHouse,
    Component::Tansu,
    Component::WriteApi,
    Component::ReadApi,
    Component::Projector,
];

/// The component named `name` if a fault may hit it: one of [`TARGETS`], or a sharded
/// stack's `clickhouse-N` or `projector-N`.
pub fn target(name: &str) -> Option<Component> {
    Component::parse(name).filter(|component| TARGETS.contains(component) || component.is_sharded())
}

/// The local stack of a checkout, as [`stack_control::Stack`] (which it derefs to), with
/// chaos's restarts.
#[derive(Debug, Clone)]
pub struct Stack {
    control: stack_control::Stack,
}

impl std::ops::Deref for Stack {
    type Target = stack_control::Stack;

    fn deref(&self) -> &Self::Target {
        &self.control
    }
}

impl Stack {
    /// The stack of the checkout at `root` (its `scripts/` and `.stack/`).
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self {
            control: stack_control::Stack::new(root.as_ref()),
        }
    }

    /// Where restarts write their output.
    pub fn log_file(&self) -> PathBuf {
        self.control.logs_dir().join("chaos.log")
    }

    /// The components chaos watches: [`TARGETS`], and those of a sharded stack that
    /// `scripts/stack.sh` started here (a pid file says so).
    pub fn components(&self) -> Vec<Component> {
        TARGETS
            .into_iter()
            .chain(self.control.sharded_components())
            .collect()
    }

    /// `scripts/stack.sh start <component>`: returns once the component is healthy.
    /// The services log at their usual level whatever this process's `RUST_LOG` says.
    pub async fn start(&self, component: Component) -> Result<(), StackError> {
        self.control
            .run_script(
                Action::Start,
                component,
                ScriptOutput::AppendTo(self.log_file()),
                |command| {
                    command.env_remove("RUST_LOG");
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_hit_the_services_and_the_infrastructure_not_the_front_door() {
        for component in TARGETS {
            assert_eq!(target(component.name()), Some(component));
        }
        assert!(target("projector-1").is_some());
        assert!(target("clickhouse-2").is_some());
        assert_eq!(target("nginx"), None);
        assert_eq!(target("archiver"), None);
    }

    #[test]
    fn a_stack_without_pid_files_has_only_the_targets() {
        let stack = Stack::new("/nonexistent");
        assert!(matches!(
            stack.pid(Component::Projector),
            Err(StackError::NotRunning { .. })
        ));
        assert_eq!(stack.components(), TARGETS.to_vec());
        assert_eq!(
            stack.log_file(),
            Path::new("/nonexistent/.stack/logs/chaos.log")
        );
    }
}
