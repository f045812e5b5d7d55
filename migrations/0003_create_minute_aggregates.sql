-- Per-minute COUNT and SUM(price) for every filter combination the API allows.
-- filter_mask says which filters a row is keyed by (bit 1 origin, bit 2 brand_id,
-- bit 4 category_id); unused filter columns are ''. A query with filters F reads the
-- rows of mask F only: one row per minute (a few before merges), never the raw tags.
--
-- Retention runs on ingestion time, never on event time, so no tag's time (a replayed
-- old stream, one dated far in the future) can expire anyone else's data. Rows are
-- partitioned by the quarter-hour they were ingested in (`ingested_in`, the same for
-- every row of a partition, so merges never change it), and a partition is dropped
-- whole once its quarter-hour ended more than the retention window ago: 24 hours by
-- default, set by `migrate --aggregates-retention-minutes` (ALTER TABLE ... MODIFY TTL).
-- Dropping parts (ttl_only_drop_parts) never rewrites one.
CREATE TABLE IF NOT EXISTS {{table minute_aggregates}}
(
    filter_mask UInt8,
    action Enum8('VIEW' = 1, 'BUY' = 2),
    filter_origin LowCardinality(String),
    filter_brand_id LowCardinality(String),
    filter_category_id LowCardinality(String),
    minute DateTime('UTC'),
    count UInt64,
    sum_price Int64,
    ingested_in DateTime('UTC')
)
ENGINE = {{engine SummingMergeTree((count, sum_price))}}
PARTITION BY ingested_in
ORDER BY (filter_mask, action, filter_origin, filter_brand_id, filter_category_id, minute)
TTL ingested_in + INTERVAL 1455 MINUTE
SETTINGS ttl_only_drop_parts = 1, merge_with_ttl_timeout = 600, non_replicated_deduplication_window = 10000
