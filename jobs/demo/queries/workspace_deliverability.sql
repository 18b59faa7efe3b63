-- A workspace's deliverability per sending domain over the last $2 days (seed 000's
-- deliverability metrics): volumes summed, rates recomputed over the period. $1 workspace_id.
SELECT sending_domain,
       sum(sent_count) AS sent_count,
       sum(delivered_count) AS delivered_count,
       sum(hard_bounces) AS hard_bounces,
       sum(soft_bounces) AS soft_bounces,
       sum(complaints) AS complaints,
       sum(unsubscribes) AS unsubscribes,
       CASE WHEN sum(sent_count) > 0
            THEN round(100.0 * (sum(hard_bounces) + sum(soft_bounces)) / sum(sent_count), 2) ELSE 0 END AS bounce_rate,
       CASE WHEN sum(sent_count) > 0
            THEN round(100.0 * sum(complaints) / sum(sent_count), 3) ELSE 0 END AS complaint_rate,
       round(avg(reputation_score), 1) AS reputation_score,
       max(refreshed_at) AS refreshed_at
FROM demo.email_deliverability_metrics
WHERE workspace_id = $1::uuid
  AND day >= (now() AT TIME ZONE 'UTC')::date - $2::int
GROUP BY sending_domain
ORDER BY sent_count DESC, sending_domain
