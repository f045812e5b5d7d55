-- Writes 0012's projections into the cube's parts written before it (new parts get
-- them as they are inserted). A mutation that ClickHouse runs in the background: on
-- an empty cube it is done at once; on a day of the contract's load (87M cube rows)
-- it took about 30 s of a core per projection. Until a part has them, reads of that
-- part use its own order, as before: the answers are the same either way.
ALTER TABLE {{alter minute_aggregates}}
    MATERIALIZE PROJECTION by_category_country,
    MATERIALIZE PROJECTION by_brand_origin
