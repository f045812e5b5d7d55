-- Per-minute COUNT and SUM(price) for every combination of the five dimensions a tag
-- carries (origin, brand, category, country, device): a minute cube. Any filter on
-- any of them, and any grouping, is answered from here, never from the raw tags: the
-- contract's aggregates (at most 10 minutes, filters on origin, brand and category) and
-- the analysts' series and top-N. One row per distinct combination per minute, fewer
-- once SummingMergeTree merges equal keys; a query sums what merges have not yet.
-- Sorted by (action, minute, ...): a time range reads its minutes only. The dimensions
-- are LowCardinality: few distinct values, filtered and grouped on.
--
-- Retention runs on ingestion time, never on event time, so no tag's time (a replayed
-- old stream, one dated far in the future) can expire anyone else's data. Rows are
-- partitioned by the ten minutes they were ingested in (`ingested_in`, the same for
-- every row of a partition, so merges never change it), and a partition is dropped
-- whole once its ten minutes ended more than the retention window ago: 24 hours by
-- default, set by `migrate --aggregates-retention-minutes` (ALTER TABLE ... MODIFY TTL).
-- Dropping parts (ttl_only_drop_parts) never rewrites one.
CREATE TABLE IF NOT EXISTS {{table minute_aggregates}}
(
    action Enum8('VIEW' = 1, 'BUY' = 2),
    minute DateTime('UTC'),
    origin LowCardinality(String),
    brand_id LowCardinality(String),
    category_id LowCardinality(String),
    country LowCardinality(String),
    device Enum8('PC' = 1, 'MOBILE' = 2, 'TV' = 3),
    count UInt64,
    sum_price Int64,
    ingested_in DateTime('UTC')
)
ENGINE = {{engine SummingMergeTree((count, sum_price))}}
PARTITION BY ingested_in
ORDER BY (action, minute, origin, brand_id, category_id, country, device)
TTL ingested_in + INTERVAL 1450 MINUTE
SETTINGS ttl_only_drop_parts = 1, merge_with_ttl_timeout = 600, non_replicated_deduplication_window = 10000
