//! The ClickHouse side of the projector: one batch is one insert into `user_tags`
//! (the views of `migrations/` derive the aggregates and resume offsets from it), and
//! the resume offsets are read back from `projector_offsets`.

use clickhouse::Client;
use service_kit::tables::UserTagRow;
use std::collections::HashMap;

/// Inserts batches and reads resume offsets for one topic.
#[derive(Clone)]
pub struct ClickHouseSink {
    client: Client,
    topic: String,
}

impl ClickHouseSink {
    /// A sink for `topic` on `client`'s database.
    pub fn new(client: Client, topic: &str) -> Self {
        Self {
            client,
            topic: topic.to_owned(),
        }
    }

    /// The client (for readiness probes).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Inserts the rows as one insert. Batches stay under ClickHouse's
    /// `max_insert_block_size`, so the server writes them as a single block: an insert
    /// cut off mid-stream (projector killed) writes nothing.
    pub async fn write(&self, rows: &[UserTagRow]) -> Result<(), clickhouse::error::Error> {
        let mut insert = self.client.insert::<UserTagRow>("user_tags").await?;
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await
    }

    /// The next offset to project for each partition ClickHouse has rows of.
    pub async fn next_offsets(&self) -> Result<HashMap<i32, i64>, clickhouse::error::Error> {
        let rows: Vec<(i32, i64)> = self
            .client
            .query(
                "SELECT kafka_partition, max(next_offset) FROM projector_offsets \
                 WHERE kafka_topic = ? GROUP BY kafka_partition",
            )
            .bind(&self.topic)
            .fetch_all()
            .await?;
        Ok(rows.into_iter().collect())
    }
}
