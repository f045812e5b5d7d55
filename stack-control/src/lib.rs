//! stack-control: the local stack's processes, for every tool that disturbs or watches
//! them (bench, chaos and chaos's test slice). The stack is supervised by `scripts/`
//! (`make up`, `scripts/stack.sh`); this crate never starts or stops a component any
//! other way, so the pid files under `.stack/run/` stay true. What it owns:
//! - [`Component`]: the components as `scripts/lib.sh` names them (`COMPONENTS`), the
//!   sharded stack's `clickhouse-N` and `projector-N` included, and what each one's
//!   command line must contain (`exe_of`);
//! - [`Stack`]: a checkout's stack: a component's pid from `.stack/run/<name>.pid`,
//!   trusted only when `/proc/<pid>/cmdline` is that component's and the process is not
//!   a zombie (as `pid_of` in `scripts/lib.sh`), so a recycled pid is never signalled or
//!   measured; signals; `scripts/stack.sh start|stop|restart <name>` and its failures;
//! - [`process`]: what `/proc` says about one process (CPU ticks, children, threads,
//!   resident memory, command line, zombie or gone).
//!
//! Errors are [`StackError`]. What a tool does with the stack (bench's scratch topics and
//! databases, chaos's faults) stays in that tool.

mod component;
pub mod process;
mod stack;

pub use component::{BoundedNumber, Component, InstanceNumber, ShardNumber};
pub use nix::sys::signal::Signal;
pub use stack::{Action, ScriptOutput, Stack, StackError};
