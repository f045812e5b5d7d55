-- Rows ever inserted into user_tags per (cookie, action), minus the rows trimmed: an
-- upper bound of the rows a pair holds (inserts are counted by the view in 0006, replays
-- and retries included; each trim corrects the count to what it saw less what it
-- deleted). The trimmer reads it to find the pairs above 200 plus the slack without
-- scanning user_tags. The deduplication window keeps a replayed batch (same token) from
-- counting twice; a trim's correction carries a token of its own.
CREATE TABLE IF NOT EXISTS {{table user_tag_counts sharded by cityHash64(cookie)}}
(
    cookie String,
    action Enum8('VIEW' = 1, 'BUY' = 2),
    rows Int64
)
ENGINE = {{engine SummingMergeTree((rows))}}
ORDER BY (cookie, action)
SETTINGS non_replicated_deduplication_window = 10000
