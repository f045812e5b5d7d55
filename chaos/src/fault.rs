//! The faults the runner injects. A kill is SIGKILL and then, at once, a restart through
//! `scripts/stack.sh start` (what a supervisor does); a freeze is SIGSTOP, a wait, and
//! SIGCONT (a process that stops answering without closing its connections: a long GC
//! pause, a stuck disk). Each fault names the paths of the platform it can break, and
//! its recovery is timed on those.

use crate::stack::{target, Component, Signal, Stack, StackError};
use serde::Serialize;
use std::time::{Duration, Instant};

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL, then a restart.
    Kill(Component),
    /// SIGSTOP for `duration`, then SIGCONT.
    Freeze {
        /// Whom.
        component: Component,
        /// For how long.
        duration: Duration,
    },
}

/// A path of the platform whose recovery is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// `POST /user_tags`: from the fault to the first 204 of a tag sent after it.
    Write,
    /// `POST /user_profiles`: from the fault to the first correct answer of a query sent
    /// after it.
    Read,
    /// Projection: from the fault to the moment a tag answered 204 after the restart
    /// shows in its profile within the freshness limit (10 s).
    Fresh,
}

impl Fault {
    /// Parses `projector`, `write-api`, `read-api`, `clickhouse`, `tansu`, and on the
    /// sharded stack `projector-N` and `clickhouse-N` such as `projector-1` and
    /// `clickhouse-2` (a kill), or `freeze-clickhouse` (a freeze of `freeze_for`).
    pub fn parse(text: &str, freeze_for: Duration) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("freeze-") {
            let component = target(name).ok_or_else(|| format!("unknown component {name:?}"))?;
            return Ok(Self::Freeze {
                component,
                duration: freeze_for,
            });
        }
        target(text)
            .map(Self::Kill)
            .ok_or_else(|| format!("unknown fault {text:?}"))
    }

    /// The fault's kind, for grouping repeats: `projector`, `freeze-clickhouse`, ...
    pub fn key(&self) -> String {
        match self {
            Self::Kill(component) => component.name().to_owned(),
            Self::Freeze { component, .. } => format!("freeze-{}", component.name()),
        }
    }

    /// What was done, in words.
    pub fn label(&self) -> String {
        match self {
            Self::Kill(component) => format!("kill -9 {}, restart", component.name()),
            Self::Freeze {
                component,
                duration,
            } => format!(
                "SIGSTOP {} {} s, SIGCONT",
                component.name(),
                duration.as_secs_f64()
            ),
        }
    }

    /// The component hit.
    pub fn component(&self) -> Component {
        match self {
            Self::Kill(component) | Self::Freeze { component, .. } => *component,
        }
    }

    /// The paths this fault can break.
    pub fn paths(&self) -> &'static [PathKind] {
        match self.component() {
            Component::Projector | Component::ProjectorInstance(_) => &[PathKind::Fresh],
            Component::WriteApi => &[PathKind::Write],
            Component::ReadApi => &[PathKind::Read],
            Component::ClickHouse | Component::ClickHouseShard(_) => {
                &[PathKind::Read, PathKind::Fresh]
            }
            Component::Tansu => &[PathKind::Write, PathKind::Fresh],
            // Not targets ([`Fault::parse`] refuses them): every request passes the front
            // door; the archive is no path the harness times.
            Component::Nginx => &[PathKind::Write, PathKind::Read, PathKind::Fresh],
            Component::Archiver => &[],
        }
    }
}

/// When a fault was injected and when the component was back.
#[derive(Debug, Clone, Copy)]
pub struct Injected {
    /// SIGKILL or SIGSTOP sent.
    pub at: Instant,
    /// The restarted component healthy (its `scripts/stack.sh start` returned), or SIGCONT sent.
    pub back: Instant,
}

/// Sends SIGCONT when dropped, so a frozen component is thawed whatever happens.
struct Thaw<'a> {
    stack: &'a Stack,
    component: Component,
}

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.stack.signal(self.component, Signal::SIGCONT) {
            tracing::error!(error = %error, "cannot thaw");
        }
    }
}

/// Injects `fault` and returns once the component is back.
pub async fn inject(stack: &Stack, fault: Fault) -> Result<Injected, StackError> {
    match fault {
        Fault::Kill(component) => {
            let at = Instant::now();
            stack.kill(component).await?;
            tracing::info!(component = component.name(), "killed; restarting");
            stack.start(component).await?;
            Ok(Injected {
                at,
                back: Instant::now(),
            })
        }
        Fault::Freeze {
            component,
            duration,
        } => {
            let at = Instant::now();
            stack.signal(component, Signal::SIGSTOP)?;
            let thaw = Thaw { stack, component };
            tracing::info!(component = component.name(), ?duration, "frozen");
            tokio::time::sleep(duration).await;
            drop(thaw);
            Ok(Injected {
                at,
                back: Instant::now(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_their_names() {
        let freeze = Duration::from_secs(15);
        assert_eq!(
            Fault::parse("projector", freeze),
            Ok(Fault::Kill(Component::Projector))
        );
        assert_eq!(
            Fault::parse("freeze-clickhouse", freeze),
            Ok(Fault::Freeze {
                component: Component::ClickHouse,
                duration: freeze
            })
        );
        assert!(Fault::parse("nginx", freeze).is_err());
        assert_eq!(
            Fault::parse("freeze-clickhouse", freeze).map(|fault| fault.key()),
            Ok("freeze-clickhouse".to_owned())
        );
    }
}
