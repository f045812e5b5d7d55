-- Writes 0014's projections into the cube's parts written before it, in the background
-- (see 0013): until a part has them, its reads use the cube's own order or 0012's.
ALTER TABLE {{alter minute_aggregates}}
    MATERIALIZE PROJECTION by_device_origin,
    MATERIALIZE PROJECTION by_device_brand,
    MATERIALIZE PROJECTION by_device_category,
    MATERIALIZE PROJECTION by_device_country
