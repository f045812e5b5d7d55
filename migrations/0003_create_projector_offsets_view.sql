CREATE MATERIALIZED VIEW IF NOT EXISTS {{view projector_offsets_mv}} TO {{local projector_offsets}} AS
SELECT
    kafka_topic,
    kafka_partition,
    max(kafka_offset) + 1 AS next_offset
FROM {{local user_tags}}
GROUP BY kafka_topic, kafka_partition
