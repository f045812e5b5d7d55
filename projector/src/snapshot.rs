//! Profiles that outlive the log: `projector snapshot` copies the profile store
//! (`user_tags`, already trimmed to each shopper's newest tags) into another database,
//! and `projector rebuild --from-snapshot` starts from such a copy.
//!
//! The broker keeps the log for a deliberate time (7 days by default): a rebuild from
//! the log alone recovers every aggregate inside the 24-hour window, but only the
//! profile tags the log still holds. A shopper's older tags survive a rebuild only in a
//! snapshot. A rebuild restores the snapshot's rows into `user_tags` with the
//! aggregates' views detached (a snapshot holds each shopper's newest tags only, so it
//! must never feed the aggregates), then replays the whole retained log as usual: the
//! aggregates come from the log alone, and a tag both in the snapshot and the log is
//! two copies of one row, which the profile store collapses.

use clickhouse::Client;
use read_model::snapshot::{
    attach_view, copy_user_tags, create_database, create_user_tags_like, detach_view,
    user_tags_rows, AGGREGATE_VIEWS,
};

/// Why a snapshot could not be taken or restored.
#[derive(Debug, thiserror::Error)]
#[error("snapshot of the profile store")]
pub struct SnapshotError(#[from] clickhouse::error::Error);

/// Copies `source`'s `user_tags` into `target` (created; its `user_tags` must not
/// exist). Returns the rows copied.
pub async fn take(server: &Client, source: &str, target: &str) -> Result<u64, SnapshotError> {
    create_database(server, target).await?;
    create_user_tags_like(server, target, source).await?;
    copy_user_tags(server, target, source).await?;
    Ok(user_tags_rows(server, target).await?)
}

/// Restores the snapshot in `snapshot` into `target`'s `user_tags` with the aggregates'
/// views detached (the profile counts' view stays, so trimming sees the rows). Returns
/// the rows restored.
pub(crate) async fn restore(
    server: &Client,
    snapshot: &str,
    target: &str,
) -> Result<u64, SnapshotError> {
    for view in AGGREGATE_VIEWS {
        detach_view(server, target, view).await?;
    }
    let copied = copy_user_tags(server, target, snapshot).await;
    let mut attached = Ok(());
    for view in AGGREGATE_VIEWS {
        let outcome = attach_view(server, target, view).await;
        attached = attached.and(outcome);
    }
    copied?;
    attached?;
    Ok(user_tags_rows(server, snapshot).await?)
}
