-- Sums each inserted batch of tags into the minute cube (see 0003). The minute is
-- computed arithmetically, independent of the server's time zone; ingested_in is the
-- ten minutes of ingestion that retention goes by.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{view minute_aggregates_mv}} TO {{local minute_aggregates}} AS
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
    toStartOfTenMinutes(now()) AS ingested_in
FROM {{local user_tags}}
GROUP BY action, minute, origin, brand_id, category_id, country, device
