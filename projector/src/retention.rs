//! Retention of the minute aggregates: hourly partitions whose every minute is older
//! than the retention window behind the newest tag's minute are dropped whole
//! (ClickHouse 18.16 has no TTL). Profiles are kept (at least the 200 newest tags
//! per cookie and action are required; all are kept).

use clickhouse::Client;
use std::time::Duration;

/// Drops aggregate partitions older than `retention_hours` behind the newest minute.
/// Returns the partitions (hour numbers) dropped.
pub async fn drop_expired(
    client: &Client,
    retention_hours: u32,
) -> Result<Vec<u32>, clickhouse::error::Error> {
    let newest: u32 = client
        .query("SELECT toUInt32(max(minute)) FROM minute_aggregates WHERE filter_mask = 0")
        .fetch_one()
        .await?;
    if newest == 0 {
        return Ok(Vec::new());
    }
    let cutoff = i64::from(newest) - i64::from(retention_hours) * 3600;
    let partitions: Vec<String> = client
        .query(
            "SELECT DISTINCT partition FROM system.parts \
             WHERE database = currentDatabase() AND table = 'minute_aggregates' AND active",
        )
        .fetch_all()
        .await?;
    let mut dropped = Vec::new();
    for hour in partitions
        .iter()
        .filter_map(|partition| partition.parse::<u32>().ok())
    {
        // Hour h holds minutes [h*3600, h*3600 + 3600): drop it when all are before the cutoff.
        if (i64::from(hour) + 1) * 3600 <= cutoff {
            client
                .query("ALTER TABLE minute_aggregates DROP PARTITION ?")
                .bind(hour)
                .execute()
                .await?;
            dropped.push(hour);
        }
    }
    Ok(dropped)
}

/// Runs [`drop_expired`] every `interval`, forever; failures are logged and retried next time.
pub async fn run_periodically(client: Client, retention_hours: u32, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        match drop_expired(&client, retention_hours).await {
            Ok(dropped) if !dropped.is_empty() => {
                metrics::counter!("projector_retention_partitions_dropped_total")
                    .increment(dropped.len() as u64);
                tracing::info!(?dropped, "expired aggregate partitions dropped");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %error, "retention failed, retrying next interval")
            }
        }
    }
}
