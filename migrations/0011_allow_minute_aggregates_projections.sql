-- Lets the minute cube (0003) carry projections (0012). SummingMergeTree sums rows as it
-- merges, so a projection copied from the parts merged would keep rows the merge summed
-- away; 'rebuild' makes each merge build the merged part's projections again from its
-- own rows, so a projection always holds exactly its part's rows. ClickHouse refuses
-- projections on this engine until the mode is chosen. (MODIFY SETTING cannot share an
-- ALTER with other commands, hence a statement of its own.)
ALTER TABLE {{alter minute_aggregates}} MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'
