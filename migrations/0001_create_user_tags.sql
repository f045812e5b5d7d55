-- Every recorded tag, one row per tag: the read model behind user profiles.
-- Sorted by (cookie, action, time_ms) so a profile query reads one cookie's rows only.
-- ReplacingMergeTree collapses a replayed tag (same cookie, action, event time: event
-- times are unique per stream); readers also dedupe with LIMIT 1 BY time_ms before merges.
-- kafka_* columns record where each row came from: the projector resumes from them.
CREATE TABLE IF NOT EXISTS {{table user_tags sharded by kafka_partition}}
(
    cookie String,
    action Enum8('VIEW' = 1, 'BUY' = 2),
    time_ms Int64,
    country String,
    device Enum8('PC' = 1, 'MOBILE' = 2, 'TV' = 3),
    origin String,
    product_id String,
    product_id_is_text UInt8,
    brand_id String,
    category_id String,
    price Int32,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64
)
ENGINE = {{engine ReplacingMergeTree(kafka_offset)}}
ORDER BY (cookie, action, time_ms)
SETTINGS index_granularity = 1024
