-- The minute cube rolled up to one dimension at a time: per action, minute, dimension
-- (origin, brand_id, category_id, country or device) and value, the COUNT and
-- SUM(price) of the tags with that value, whatever their other dimensions. A minute
-- holds one row per value seen (at most about 1,400 at the contract's load, against
-- tens of thousands of cube rows, one per combination), so the analysts' reads that
-- need at most one dimension read a few rows per minute instead of the whole cube:
-- a series with no filter (any dimension's values sum to every tag: read-api reads the
-- device rows, three per minute), a series filtered on one dimension, a top-N of one
-- dimension filtered on nothing else. Everything else reads the cube (0003).
--
-- Retention and deduplication are the cube's: partitions of ten minutes of ingestion
-- dropped whole past the window (`migrate --aggregates-retention-minutes` sets both
-- tables' TTL), and a replayed batch's token makes its rows a no-op here as there.
CREATE TABLE IF NOT EXISTS {{table minute_dimension_totals}}
(
    action Enum8('VIEW' = 1, 'BUY' = 2),
    dimension Enum8('origin' = 1, 'brand_id' = 2, 'category_id' = 3, 'country' = 4, 'device' = 5),
    minute DateTime('UTC'),
    value LowCardinality(String),
    count UInt64,
    sum_price Int64,
    ingested_in DateTime('UTC')
)
ENGINE = {{engine SummingMergeTree((count, sum_price))}}
PARTITION BY ingested_in
ORDER BY (action, dimension, minute, value)
TTL ingested_in + INTERVAL 1450 MINUTE
SETTINGS ttl_only_drop_parts = 1, merge_with_ttl_timeout = 600, non_replicated_deduplication_window = 10000
