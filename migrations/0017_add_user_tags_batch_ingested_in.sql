-- The ten minutes of wall time each tag's batch was first recorded in, set by the
-- projector from its batch-log entry (the entry's version), so that a batch inserted
-- again after a crash carries the same value as its first attempt, whenever the replay
-- runs. The aggregate views partition their rows by it (0018, 0019): ClickHouse's insert
-- deduplication recognises a token only within the partition it was first seen in, and
-- with the views' own `toStartOfTenMinutes(now())` a batch replayed across a ten-minute
-- boundary of wall time landed in a new partition and was counted twice.
-- 0 (the default) means "not set" (a writer that predates the column, or a row made by
-- hand): the views fall back to the ten minutes of the insert, as before.
ALTER TABLE {{columns user_tags}} ADD COLUMN IF NOT EXISTS batch_ingested_in DateTime('UTC') DEFAULT 0
