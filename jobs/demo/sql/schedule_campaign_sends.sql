-- schedule_campaign_sends {campaign_id}: one queued email_sends row per active or verified lead
-- of the campaign's workspace, in batches of :batch_size leads in id order, resuming after
-- :batch_after. The campaign's workspace is a scalar subquery (computed once, then a constant to
-- the planner), so a batch walks the index (workspace_id, id) from where the last one stopped
-- instead of sorting the whole workspace.
--
-- Idempotent: sends carry the campaign's created_at, and the unique index
-- idx_email_sends_campaign_lead (campaign_id, lead_id, created_at) holds one send per lead and
-- campaign. Leads already scheduled are left out by one anti-join per batch: the campaign's sends
-- in the batch's id range are one range of that index (batches go in lead-id order), hashed,
-- so a re-run reads each batch's range once and builds no row for a lead already scheduled.
-- No ON CONFLICT clause (a speculative insertion per row: 1.1-1.3x the plain insert in psql A/Bs): a send
-- committed meanwhile by a concurrent run of the campaign makes the batch fail on the unique
-- index instead of scheduling twice, and the runner runs that batch again with a new snapshot,
-- whose anti-join leaves the other run's sends out (StatementRunner.batch).
WITH campaign AS (
    SELECT c.id, c.workspace_id, c.created_at, coalesce(c.scheduled_at, now()) AS scheduled_at
    FROM demo.campaigns c
    WHERE c.id = :campaign_id
), batch AS (
    SELECT l.id
    FROM demo.leads l
    WHERE l.workspace_id = (SELECT workspace_id FROM campaign)
      AND l.id > coalesce(:batch_after::uuid, '00000000-0000-0000-0000-000000000000')
      AND l.status IN ('active', 'verified')
    ORDER BY l.id
    LIMIT :batch_size
), bounds AS MATERIALIZED (
    SELECT (SELECT id FROM batch ORDER BY id LIMIT 1) AS first_id, (SELECT id FROM batch ORDER BY id DESC LIMIT 1) AS last_id
), scheduled AS (
    SELECT s.lead_id
    FROM demo.email_sends s
    WHERE s.campaign_id = :campaign_id
      AND s.lead_id BETWEEN (SELECT first_id FROM bounds) AND (SELECT last_id FROM bounds)
      AND s.created_at = (SELECT created_at FROM campaign)
), ins AS (
    INSERT INTO demo.email_sends (workspace_id, campaign_id, lead_id, status, scheduled_at, created_at)
    SELECT c.workspace_id, c.id, b.id, 'queued', c.scheduled_at, c.created_at
    FROM batch b CROSS JOIN campaign c
    WHERE NOT EXISTS (SELECT 1 FROM scheduled d WHERE d.lead_id = b.id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::bigint AS affected, (SELECT last_id FROM bounds)::text AS last_key
