-- The cube's view (0004) takes `ingested_in` from the batch (user_tags.batch_ingested_in,
-- 0017) rather than from the insert's wall time, so a batch inserted again lands in the
-- partition of its first attempt and its token deduplicates it there. Rows without a
-- batch time (0) keep the old rule: the ten minutes of the insert. MODIFY QUERY swaps the
-- view's query atomically: no insert is missed while it runs.
ALTER TABLE {{view minute_aggregates_mv}} MODIFY QUERY
SELECT
    action,
    toDateTime(intDiv(time_ms, 60000) * 60, 'UTC') AS minute,
    origin,
    brand_id,
    category_id,
    country,
    device,
    count() AS count,
    sum(toInt64(price)) AS sum_price,
    toStartOfTenMinutes(if(batch_ingested_in = 0, now('UTC'), batch_ingested_in)) AS ingested_in
FROM {{local user_tags}}
GROUP BY action, minute, origin, brand_id, category_id, country, device, ingested_in
