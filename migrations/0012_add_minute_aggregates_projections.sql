-- Two more sort orders of the minute cube (0003), for the analysts' reads that filter
-- on two dimensions or more over a long range: those cannot use the one-dimension
-- rollup (0009), and the cube, sorted by (action, minute, ...), can only skip by time,
-- so a 24-hour series filtered on brand and country read every one of the day's cube
-- rows of the action (69M on the 86.4M-tag day of `bench read`: about 0.55 s and
-- 0.9 CPU-seconds per query with the machine to itself).
--
-- Each projection is a full copy of each part's rows in another order, kept by
-- ClickHouse in the part itself (inserts, merges, TTL drops and detaches all carry it);
-- ClickHouse reads from whichever of the part and its projections has the fewest marks
-- to read, so no query names them:
--   by_category_country leads with category (67 values in the bench's stream), then
--     country (100): any filter on either reads about 1/67 or 1/100 of the range;
--   by_brand_origin leads with brand (250), then origin (1,000): the same for those.
-- Every pair of the five dimensions holds at least one of these four (device, with 3
-- values, would narrow little and leads nowhere), so any two filters or more read a
-- few million rows at most (measured on the same day: 1.4-12M rows, 25-50 ms,
-- 0.03-0.05 CPU-seconds).
-- Reads led by time (the contract's 10-minute aggregates, short ranges) keep the
-- part's own order.
--
-- The cost, measured on 26.9 (the same rows into two tables, merges stopped): an
-- insert of 1,000 cube rows takes 7.6 ms of CPU instead of 5.5; a merge about 1.9x the
-- CPU (each merge rebuilds the projections, see 0011); disk 2.1x the cube's (the cube
-- is about 0.5 GiB a day at the contract's load, each projection as much again).
-- 0013 writes the projections into parts that were there before this migration.
ALTER TABLE {{alter minute_aggregates}}
    ADD PROJECTION IF NOT EXISTS by_category_country (SELECT * ORDER BY action, category_id, country, minute),
    ADD PROJECTION IF NOT EXISTS by_brand_origin (SELECT * ORDER BY action, brand_id, origin, minute)
