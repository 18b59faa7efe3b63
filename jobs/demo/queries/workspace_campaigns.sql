-- A workspace's campaign table (seed 000's campaign analytics): one row per campaign, most
-- recently active first. $1 workspace_id, $2 limit.
SELECT campaign_id, campaign_name, status, total_recipients, sent_count, delivered_count, opened_count,
       clicked_count, replied_count, bounced_count, unsubscribed_count, delivery_rate, open_rate, click_rate,
       reply_rate, bounce_rate, last_event_at, refreshed_at
FROM demo.campaign_analytics
WHERE workspace_id = $1::uuid
ORDER BY last_event_at DESC NULLS LAST, campaign_name, campaign_id
LIMIT $2::int
