-- schedule_campaign_sends {campaign_id}: one queued email_sends row per active or verified lead
-- of the campaign's workspace, in batches of :batch_size leads in email order, resuming after
-- :batch_after. The campaign's workspace and created_at are scalar subqueries (computed once,
-- then constants to the planner), so a batch walks the unique index (workspace_id, email) from
-- where the last one stopped instead of sorting the whole workspace.
--
-- Idempotent: a lead that already has a send of this campaign is skipped. Sends carry the
-- campaign's created_at, so that check probes idx_email_sends_lead (lead_id, created_at) in
-- one partition only.
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
    LEFT JOIN LATERAL (
        -- LIMIT keeps this a per-lead index probe (a hash of every send of the campaign would be
        -- rebuilt for each batch); the created_at constant prunes it to one partition. The
        -- campaign test is written `IS TRUE` so the planner probes idx_email_sends_lead and never
        -- the campaign's index, which it prefers for a campaign with no sends yet and which then
        -- scans every send the campaign gets.
        SELECT 1 AS found FROM demo.email_sends s
        WHERE s.lead_id = b.id
          AND s.created_at = (SELECT created_at FROM demo.campaigns WHERE id = :campaign_id)
          AND (s.campaign_id = :campaign_id) IS TRUE
        LIMIT 1) sent ON true
    WHERE c.id = :campaign_id AND sent.found IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::bigint AS affected, (SELECT max(email) FROM batch) AS last_key
