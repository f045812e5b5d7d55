-- Counts every row inserted into user_tags per (cookie, action) (see 0005).
CREATE MATERIALIZED VIEW IF NOT EXISTS {{view user_tag_counts_mv}} TO {{local user_tag_counts}} AS
SELECT cookie, action, toInt64(count()) AS rows
FROM {{local user_tags}}
GROUP BY cookie, action
