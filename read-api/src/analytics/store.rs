//! The analysts' reads of the aggregates: series per bucket and top-N per dimension.
//! They run on their own client, with two threads each (a day is tens of millions of
//! cube rows), beside the contract's single-threaded point reads. Which table answers
//! which read, and the statements, are `read_model::cube`'s.

use super::params::{SeriesQuery, TopQuery};
use crate::contract::store::StoreError;
use clickhouse::Client;
use read_model::cube::{SeriesRead, TopRead};

pub(crate) use read_model::cube::{BucketTotals, RankedValue};

/// The analysts' reads.
#[derive(Clone)]
pub(crate) struct CubeStore {
    client: Client,
}

impl CubeStore {
    /// Reads on `client` (read-api's database), two threads each.
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client: client
                .with_setting("max_threads", "2")
                .with_setting("cancel_http_readonly_queries_on_client_close", "1"),
        }
    }

    /// The totals of every bucket of the query's range that has matching tags, in order.
    pub(crate) async fn series(
        &self,
        query: &SeriesQuery,
    ) -> Result<Vec<BucketTotals>, StoreError> {
        Ok(read_model::cube::series(&self.client, &series_read(query)).await?)
    }

    /// The query's top values, best first.
    pub(crate) async fn top(&self, query: &TopQuery) -> Result<Vec<RankedValue>, StoreError> {
        Ok(read_model::cube::top(&self.client, &top_read(query)).await?)
    }
}

/// What `read_model` reads for a series query.
pub(super) fn series_read(query: &SeriesQuery) -> SeriesRead<'_> {
    SeriesRead {
        action: query.action,
        from: query.range.from(),
        to: query.range.to(),
        bucket_seconds: query.bucket.seconds(),
        filters: &query.filters,
    }
}

/// What `read_model` reads for a top-N query.
pub(super) fn top_read(query: &TopQuery) -> TopRead<'_> {
    TopRead {
        action: query.action,
        from: query.range.from(),
        to: query.range.to(),
        dimension: query.dimension,
        by: query.by,
        limit: query.limit,
        filters: &query.filters,
    }
}
