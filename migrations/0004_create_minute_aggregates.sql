-- Per-minute COUNT and SUM(price) for every filter combination the API allows.
-- filter_mask says which filters a row is keyed by (bit 1 origin, bit 2 brand_id,
-- bit 4 category_id); unused filter columns are ''. A query with filters F reads the
-- rows of mask F only: one row per minute (a few before merges), never the raw tags.
-- Hourly partitions of event time, so retention drops whole partitions (18.16 has no TTL).
CREATE TABLE IF NOT EXISTS {{table minute_aggregates}}
(
    filter_mask UInt8,
    action Enum8('VIEW' = 1, 'BUY' = 2),
    filter_origin String,
    filter_brand_id String,
    filter_category_id String,
    minute DateTime,
    count UInt64,
    sum_price Int64
)
ENGINE = {{engine SummingMergeTree((count, sum_price))}}
PARTITION BY intDiv(toUInt32(minute), 3600)
ORDER BY (filter_mask, action, filter_origin, filter_brand_id, filter_category_id, minute)
