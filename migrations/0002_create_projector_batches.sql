-- The projector's batch log: before a batch is inserted into user_tags, one row per
-- partition of the batch records its ranges and its insert_deduplication_token. A batch
-- cut short by a crash (ClickHouse can commit user_tags and some views but not others)
-- is inserted again from exactly these ranges with the same token, so each read model
-- ends up holding it once; the next offset to project per partition is read here too.
-- A row with an empty token says the partition's last batch is known to be in.
CREATE TABLE IF NOT EXISTS {{table projector_batches sharded by kafka_partition}}
(
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    version UInt64,
    token String,
    ranges Array(Tuple(Int32, Int64, Int64)),
    next_offset Int64
)
ENGINE = {{engine ReplacingMergeTree(version)}}
ORDER BY (kafka_topic, kafka_partition)
