-- The trimmer's work tables (see 0007). trim_keys: for each candidate pair of a run,
-- from one snapshot of user_tags, the keys beyond its newest 200 distinct event times
-- (doomed = 1) and one row carrying the rows the pair held then (present).
CREATE TABLE IF NOT EXISTS {{table trim_keys sharded by cityHash64(cookie)}}
(
    run UInt64,
    cookie String,
    action Enum8('VIEW' = 1, 'BUY' = 2),
    time_ms Int64,
    copies UInt64,
    present UInt64,
    doomed UInt8
)
ENGINE = {{engine MergeTree}}
ORDER BY (run, cookie, action, time_ms)
TTL toDateTime(intDiv(run, 1000000)) + INTERVAL 1 HOUR
SETTINGS merge_with_ttl_timeout = 600
