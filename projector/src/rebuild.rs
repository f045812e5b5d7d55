//! `projector rebuild`: replays the topic from its beginning into fresh tables.
//!
//! The target database is created and migrated, the topic's high watermarks are
//! recorded, and a sole projector instance runs against the target until every
//! partition is durably handled (inserted, skipped or dead-lettered) up to those marks.
//! Because a projector resumes where the target's batch log says, an empty target
//! starts at the beginning of the log. Tags arriving meanwhile are projected as well;
//! the live projector keeps serving the old database until the switch.
//!
//! With an archive (`--from-archive`), the archive's records are inserted first
//! ([`crate::archive_replay`]), and the projector then continues from where the archive
//! ends: the broker's tail. The log's retention no longer bounds what a rebuild recovers.

use crate::config::Config;
use crate::startup::{Application, RunError, StartupError};
use std::path::Path;
use std::time::{Duration, Instant};

/// Why a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The target could not be migrated.
    #[error("migrating the target database")]
    Migration(#[from] migrations::MigrationError),
    /// The topic's watermarks could not be read.
    #[error("reading the topic's watermarks")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The projector could not start.
    #[error("starting the projector")]
    Projector(#[from] StartupError),
    /// The projector stopped on an error.
    #[error("running the projector")]
    Run(#[from] RunError),
    /// The snapshot could not be restored.
    #[error("restoring the snapshot")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// The archive could not be replayed.
    #[error("replaying the archive")]
    Archive(#[from] crate::archive_replay::ArchiveReplayError),
    /// A blocking task failed.
    #[error("watermark task failed")]
    Join,
}

/// What the rebuild did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// The database now holding the rebuilt read models.
    pub database: String,
    /// Messages replayed: from the archive, then from the broker (up to the recorded
    /// high watermarks).
    pub messages: i64,
    /// What came from the archive (`None`: the broker alone).
    pub archive: Option<crate::archive_replay::ArchiveReplay>,
    /// The high watermark of every partition when it started: the replay holds
    /// everything before them.
    pub positions: std::collections::HashMap<i32, i64>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Rebuilds the read models of `config`'s topic into `target_database`, starting from
/// the profiles of `snapshot` when given (see [`crate::snapshot`]), and from the archive
/// at `archive_url` when given.
pub async fn rebuild(
    mut config: Config,
    target_database: &str,
    migrations_dir: &Path,
    snapshot: Option<&str>,
    archive_url: Option<&str>,
) -> Result<RebuildReport, RebuildError> {
    let started = Instant::now();
    let server = service_kit::clickhouse::server_client(&config.clickhouse);
    migrations::apply(&server, target_database, migrations_dir).await?;
    if let Some(snapshot) = snapshot {
        let restored = crate::snapshot::restore(&server, snapshot, target_database).await?;
        tracing::info!(snapshot, restored, "profiles restored from the snapshot");
    }

    let archive = match archive_url {
        Some(url) => {
            let mut target = config.clone();
            target.clickhouse.database = target_database.to_owned();
            Some(crate::archive_replay::replay(&target, url).await?)
        }
        None => None,
    };
    let kafka = config.kafka.clone();
    let marks = tokio::task::spawn_blocking(move || service_kit::kafka::watermarks(&kafka))
        .await
        .map_err(|_| RebuildError::Join)??;
    let from_broker: i64 = marks
        .iter()
        .map(|(partition, (low, high))| {
            let start = archive
                .as_ref()
                .and_then(|archive| archive.next.get(partition))
                .map_or(*low, |next| (*next).max(*low));
            (high - start).max(0)
        })
        .sum();
    let messages = from_broker
        + archive.as_ref().map_or(0, |archive| {
            i64::try_from(archive.records).unwrap_or(i64::MAX)
        });
    tracing::info!(
        target_database,
        messages,
        partitions = marks.len(),
        "rebuild started"
    );

    config.instance = 0;
    config.instances = 1;
    config.clickhouse.database = target_database.to_owned();
    config.listen = "127.0.0.1:0".parse().unwrap_or(config.listen);
    let application = Application::build(config).await?;
    let mut positions = application.positions();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    let caught_up = positions.wait_for(|positions| {
        marks.iter().all(|(partition, (low, high))| {
            high <= low
                || positions
                    .next
                    .get(partition)
                    .is_some_and(|next| next >= high)
        })
    });
    tokio::select! {
        _ = caught_up => {},
        _ = async { while !running.is_finished() { tokio::time::sleep(Duration::from_millis(200)).await } } => {},
    }
    let _ = stop.send(());
    running.await.map_err(|_| RebuildError::Join)??;
    let report = RebuildReport {
        database: target_database.to_owned(),
        messages,
        archive,
        positions: marks
            .iter()
            .map(|(partition, (_, high))| (*partition, *high))
            .collect(),
        elapsed: started.elapsed(),
    };
    tracing::info!(database = %report.database, messages, elapsed = ?report.elapsed, "rebuild complete: switch CLICKHOUSE_DATABASE to it");
    Ok(report)
}
