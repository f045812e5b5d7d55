-- Sums each inserted batch of tags into the one-dimension rollup (see 0009): every tag
-- counts once under each of its five dimensions. The minute and ingested_in are
-- computed as the cube's view computes them (0004), so the two always agree.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{view minute_dimension_totals_mv}} TO {{local minute_dimension_totals}} AS
SELECT
    action,
    CAST(pair.1, 'Enum8(\'origin\' = 1, \'brand_id\' = 2, \'category_id\' = 3, \'country\' = 4, \'device\' = 5)') AS dimension,
    toDateTime(intDiv(time_ms, 60000) * 60, 'UTC') AS minute,
    pair.2 AS value,
    count() AS count,
    sum(toInt64(price)) AS sum_price,
    toStartOfTenMinutes(now()) AS ingested_in
FROM {{local user_tags}}
ARRAY JOIN [
    ('origin', toString(origin)),
    ('brand_id', toString(brand_id)),
    ('category_id', toString(category_id)),
    ('country', toString(country)),
    ('device', toString(device))
] AS pair
GROUP BY action, dimension, minute, value
