-- Four aggregating projections of the minute cube (0003): per action, device, minute
-- and the value of one other dimension, the COUNT and SUM(price). They answer what the
-- sorted projections (0012) cannot narrow, a filter on device alone beside a grouping
-- or a filter on one other dimension: "the top brands on mobile over the day", or a
-- series filtered on device and country. Without them the day's top brands on PC read
-- every cube row of the action (69M on `bench read`'s day: about 1 s and 1 CPU-second
-- per query); with them at most the day's 2.2M rows of by_device_brand (both actions,
-- every device; on a 2-hour sample, 57,344 rows read instead of the cube's 2.7M).
--
-- ClickHouse uses an aggregating projection when a query's filters and groupings are
-- all among its keys (the folded-away filters of read-api's queries included: `0 = 0
-- OR origin = ''` is true whatever origin is); no query names them. Small: at most
-- 3 devices x the dimension's values rows per minute (3,000 for origins against the
-- cube's tens of thousands). Merges rebuild them as they do 0012's (0011).
-- 0015 writes them into parts written before this migration.
ALTER TABLE {{alter minute_aggregates}}
    ADD PROJECTION IF NOT EXISTS by_device_origin
        (SELECT action, device, minute, origin, sum(count), sum(sum_price) GROUP BY action, device, minute, origin),
    ADD PROJECTION IF NOT EXISTS by_device_brand
        (SELECT action, device, minute, brand_id, sum(count), sum(sum_price) GROUP BY action, device, minute, brand_id),
    ADD PROJECTION IF NOT EXISTS by_device_category
        (SELECT action, device, minute, category_id, sum(count), sum(sum_price) GROUP BY action, device, minute, category_id),
    ADD PROJECTION IF NOT EXISTS by_device_country
        (SELECT action, device, minute, country, sum(count), sum(sum_price) GROUP BY action, device, minute, country)
