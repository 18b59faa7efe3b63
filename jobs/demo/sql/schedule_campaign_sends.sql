-- schedule_campaign_sends {campaign_id}: one queued email_sends row per active or verified lead
-- of the campaign's workspace, in batches of :batch_size leads in email order, resuming after
-- :batch_after. The campaign's workspace is a scalar subquery (computed once, then a constant to
-- the planner), so a batch walks the unique index (workspace_id, email) from where the last one
-- stopped instead of sorting the whole workspace.
--
-- Idempotent: sends carry the campaign's created_at, and the unique index
-- idx_email_sends_campaign_lead (campaign_id, lead_id, created_at) makes a lead already scheduled
-- for the campaign a conflict, skipped by ON CONFLICT DO NOTHING; no probe per lead beyond the
-- one the index makes anyway.
WITH batch AS (
    SELECT l.id, l.email
    FROM demo.leads l
    WHERE l.workspace_id = (SELECT workspace_id FROM demo.campaigns WHERE id = :campaign_id)
      AND l.email > coalesce(:batch_after::text, '')
      AND l.status IN ('active', 'verified')
    ORDER BY l.email
    LIMIT :batch_size
), ins AS (
    INSERT INTO demo.email_sends (workspace_id, campaign_id, lead_id, status, scheduled_at, created_at)
    SELECT c.workspace_id, c.id, b.id, 'queued', coalesce(c.scheduled_at, now()), c.created_at
    FROM batch b CROSS JOIN demo.campaigns c
    WHERE c.id = :campaign_id
    ON CONFLICT (campaign_id, lead_id, created_at) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::bigint AS affected, (SELECT max(email) FROM batch) AS last_key
