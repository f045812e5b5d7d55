-- Every recorded tag, one row per tag: the read model behind user profiles.
-- Sorted by (cookie, action, time_ms) so a profile query reads one cookie's rows only.
-- ReplacingMergeTree collapses copies of one tag (same cookie, action, event time:
-- event times are unique per stream), keeping the copy from the latest log offset;
-- readers also drop copies that merges have not collapsed yet.
-- kafka_* columns record where each row came from.
-- Dimensions with few distinct values are LowCardinality (dictionary-encoded).
-- non_replicated_deduplication_window: a projector batch carries an
-- insert_deduplication_token, and an insert whose token is among the last 10,000 is
-- skipped here and, through deduplicate_blocks_in_dependent_materialized_views, in every
-- view it feeds: a retried or replayed batch changes nothing (see 0002).
CREATE TABLE IF NOT EXISTS {{table user_tags sharded by kafka_partition}}
(
    cookie String,
    action Enum8('VIEW' = 1, 'BUY' = 2),
    time_ms Int64,
    country LowCardinality(String),
    device Enum8('PC' = 1, 'MOBILE' = 2, 'TV' = 3),
    origin LowCardinality(String),
    product_id String,
    product_id_is_text UInt8,
    brand_id LowCardinality(String),
    category_id LowCardinality(String),
    price Int32,
    kafka_partition Int32,
    kafka_offset Int64
)
ENGINE = {{engine ReplacingMergeTree(kafka_offset)}}
ORDER BY (cookie, action, time_ms)
SETTINGS index_granularity = 1024, non_replicated_deduplication_window = 10000
