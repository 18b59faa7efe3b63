-- A workspace's usage summary (seed 000's workspace usage analytics). $1 workspace_id.
SELECT workspace_id, workspace_name, plan, lead_count, contactable_lead_count, leads_added_30d, campaign_count,
       active_campaign_count, emails_sent_30d, last_sent_at, ai_requests_30d, ai_tokens_30d, refreshed_at
FROM demo.workspace_usage_analytics
WHERE workspace_id = $1::uuid
