-- Fans each inserted tag out to its 8 filter combinations (ARRAY JOIN) and sums per minute.
-- The minute is computed arithmetically, independent of the server's time zone;
-- ingested_in is the quarter-hour of ingestion that retention goes by (see 0003).
CREATE MATERIALIZED VIEW IF NOT EXISTS {{view minute_aggregates_mv}} TO {{local minute_aggregates}} AS
SELECT
    filter_mask,
    action,
    if(bitAnd(filter_mask, 1) != 0, origin, '') AS filter_origin,
    if(bitAnd(filter_mask, 2) != 0, brand_id, '') AS filter_brand_id,
    if(bitAnd(filter_mask, 4) != 0, category_id, '') AS filter_category_id,
    toDateTime(intDiv(time_ms, 60000) * 60, 'UTC') AS minute,
    count() AS count,
    sum(toInt64(price)) AS sum_price,
    toStartOfFifteenMinutes(now()) AS ingested_in
FROM {{local user_tags}}
ARRAY JOIN [0, 1, 2, 3, 4, 5, 6, 7] AS filter_mask
GROUP BY filter_mask, action, filter_origin, filter_brand_id, filter_category_id, minute
