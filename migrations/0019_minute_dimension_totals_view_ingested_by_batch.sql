-- The one-dimension rollup's view (0010) takes `ingested_in` from the batch, as the
-- cube's view does (0018), so the two always agree and a replayed batch is deduplicated
-- in both.
ALTER TABLE {{view minute_dimension_totals_mv}} MODIFY QUERY
SELECT
    action,
    CAST(pair.1, 'Enum8(\'origin\' = 1, \'brand_id\' = 2, \'category_id\' = 3, \'country\' = 4, \'device\' = 5)') AS dimension,
    toDateTime(intDiv(time_ms, 60000) * 60, 'UTC') AS minute,
    pair.2 AS value,
    count() AS count,
    sum(toInt64(price)) AS sum_price,
    toStartOfTenMinutes(if(batch_ingested_in = 0, now('UTC'), batch_ingested_in)) AS ingested_in
FROM {{local user_tags}}
ARRAY JOIN [
    ('origin', toString(origin)),
    ('brand_id', toString(brand_id)),
    ('category_id', toString(category_id)),
    ('country', toString(country)),
    ('device', toString(device))
] AS pair
GROUP BY action, dimension, minute, value, ingested_in
