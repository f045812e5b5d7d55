-- The next Kafka offset to project, per topic partition, written by the same insert
-- as the rows themselves (through the view in 0003): the projector resumes from here,
-- not from the broker's committed offsets, so a replayed batch is never counted twice.
CREATE TABLE IF NOT EXISTS {{table projector_offsets}}
(
    kafka_topic String,
    kafka_partition Int32,
    next_offset Int64
)
ENGINE = {{engine ReplacingMergeTree(next_offset)}}
ORDER BY (kafka_topic, kafka_partition)
