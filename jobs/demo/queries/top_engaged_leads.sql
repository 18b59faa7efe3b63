-- A workspace's most engaged leads (seed 000's lead scoring). $1 workspace_id, $2 limit.
SELECT s.lead_id, l.email, l.first_name, l.last_name, l.company, s.engagement_score, s.engagement_level,
       s.opens_90d, s.clicks_90d, s.replies_90d, s.last_engaged_at
FROM demo.lead_engagement_scores s
JOIN demo.leads l ON l.id = s.lead_id
WHERE s.workspace_id = $1::uuid AND s.engagement_score > 0
ORDER BY s.engagement_score DESC, s.lead_id
LIMIT $2::int
