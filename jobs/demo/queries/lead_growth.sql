-- A workspace's lead growth over the last $2 months (seed 001's lead growth analytics): new
-- leads per UTC month and the running total. $1 workspace_id.
WITH months AS (
    SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => $2::int - 1),
                           date_trunc('month', now() AT TIME ZONE 'UTC'), interval '1 month') AS month
), added AS (
    SELECT date_trunc('month', created_at AT TIME ZONE 'UTC') AS month, count(*) AS new_leads
    FROM demo.leads
    WHERE workspace_id = $1::uuid
      AND created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => $2::int - 1)) AT TIME ZONE 'UTC'
    GROUP BY 1
), before AS (
    SELECT count(*) AS leads
    FROM demo.leads
    WHERE workspace_id = $1::uuid
      AND created_at < (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => $2::int - 1)) AT TIME ZONE 'UTC'
)
SELECT to_char(m.month, 'YYYY-MM') AS month,
       coalesce(a.new_leads, 0) AS new_leads,
       (SELECT leads FROM before) + sum(coalesce(a.new_leads, 0)) OVER (ORDER BY m.month) AS total_leads
FROM months m
LEFT JOIN added a ON a.month = m.month
ORDER BY m.month
