-- The trimmer's work tables (projector/src/trim.rs). trim_candidates: per run, the
-- (cookie, action) pairs whose count was above the bound when the run started. A run
-- is identified by its start time in milliseconds times 1,000 plus its slice; rows go an
-- hour later (they are kept a while for diagnosis).
CREATE TABLE IF NOT EXISTS {{table trim_candidates sharded by cityHash64(cookie)}}
(
    run UInt64,
    cookie String,
    action Enum8('VIEW' = 1, 'BUY' = 2),
    counted Int64
)
ENGINE = {{engine MergeTree}}
ORDER BY (run, cookie, action)
TTL toDateTime(intDiv(run, 1000000)) + INTERVAL 1 HOUR
SETTINGS merge_with_ttl_timeout = 600
