-- schedule_campaign_sends {campaign_id}: one queued email_sends row per active or verified lead
-- of the campaign's workspace, in batches of :batch_size leads in email order (the unique index
-- (workspace_id, email) walks them), resuming after :batch_after.
--
-- Idempotent: a lead that already has a send of this campaign is skipped. Sends carry the
-- campaign's created_at, so the check probes one email_sends partition through
-- idx_email_sends_lead instead of every month's.
WITH c AS (
    SELECT id, workspace_id, created_at, scheduled_at FROM demo.campaigns WHERE id = :campaign_id
), batch AS (
    SELECT l.id, l.email
    FROM demo.leads l JOIN c ON l.workspace_id = c.workspace_id
    WHERE l.status IN ('active', 'verified')
      AND l.email > coalesce(:batch_after::text, '')
    ORDER BY l.email
    LIMIT :batch_size
), ins AS (
    INSERT INTO demo.email_sends (workspace_id, campaign_id, lead_id, status, scheduled_at, created_at)
    SELECT c.workspace_id, c.id, b.id, 'queued', coalesce(c.scheduled_at, now()), c.created_at
    FROM batch b CROSS JOIN c
    WHERE NOT EXISTS (
        SELECT 1 FROM demo.email_sends s
        WHERE s.lead_id = b.id AND s.created_at = c.created_at AND s.campaign_id = c.id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::bigint AS affected, (SELECT max(email) FROM batch) AS last_key
