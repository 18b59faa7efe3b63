-- The demo platform: a multi-tenant email-marketing database of the kind the seed guides describe
-- (workspaces, leads, campaigns, sends, events, activities, usage analytics).
--
-- Plain SQL, no psql meta-commands: it runs as ONE multi-statement string through libpq's PQexec
-- (and so inside one implicit transaction) as well as through `psql -f`. Everything lives in schema
-- `demo`, except `demo_archive`, where the partitions job moves email_events partitions that
-- passed their retention (retention_mode: archive in jobs/demo/catalog.yaml).
--
-- Re-runnable: every CREATE says IF NOT EXISTS, so a second run into the same database is a no-op.
-- It is meant for a fresh schema; it never alters an existing object to match.
--
-- Partitions: email_sends, email_events and lead_activities are partitioned by RANGE on created_at
-- into calendar months (UTC boundaries), each with a DEFAULT partition. The DO block at the end
-- creates the months from 14 months ago to 1 month ahead, named `<table>_pYYYY_MM`, the names the
-- partitions job uses too. Creating them here rather than leaving it all to the job keeps demo
-- data out of the default partition: once the default holds rows of a month, that month's
-- partition can no longer be created without moving them.
--
-- The partitioned event tables carry no foreign keys: detaching or dropping a month and bulk
-- loading must stay cheap, and a tenant's rows are found by workspace_id.

CREATE SCHEMA IF NOT EXISTS demo;
CREATE SCHEMA IF NOT EXISTS demo_archive;

-- Tenants ------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS demo.workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    plan        text NOT NULL DEFAULT 'free'
                CHECK (plan IN ('free', 'starter', 'pro', 'enterprise')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Leads (contacts): seed 001's 2M-contact table ------------------------------------------------------

CREATE TABLE IF NOT EXISTS demo.leads (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id       uuid NOT NULL REFERENCES demo.workspaces (id) ON DELETE CASCADE,
    email              text NOT NULL CHECK (email = lower(email) AND position('@' IN email) > 1),
    status             text NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'verified', 'unsubscribed', 'bounced', 'invalid')),
    first_name         text,
    last_name          text,
    company            text,
    title              text,
    source             text,
    tags               text[] NOT NULL DEFAULT '{}',
    custom_fields      jsonb NOT NULL DEFAULT '{}',
    -- engagement, kept current by the sending side; lead_engagement_scores derives a score from events
    emails_sent_count  integer NOT NULL DEFAULT 0,
    open_count         integer NOT NULL DEFAULT 0,
    click_count        integer NOT NULL DEFAULT 0,
    reply_count        integer NOT NULL DEFAULT 0,
    last_contacted_at  timestamptz,
    last_opened_at     timestamptz,
    last_clicked_at    timestamptz,
    last_replied_at    timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Workspace isolation: every lookup starts with workspace_id (seed 000); one lead per address.
CREATE UNIQUE INDEX IF NOT EXISTS idx_leads_workspace_email
    ON demo.leads (workspace_id, email);
-- Status lists with email order, only for the statuses the UI lists (seed 001).
CREATE INDEX IF NOT EXISTS idx_leads_workspace_status_email
    ON demo.leads (workspace_id, status, email)
    WHERE status IN ('active', 'unsubscribed', 'bounced');
-- Segment rules on source (equals / not_equals within a workspace).
CREATE INDEX IF NOT EXISTS idx_leads_workspace_source
    ON demo.leads (workspace_id, source);
-- A workspace's leads in id order, status beside them so a batch of eligible leads is an
-- index-only scan (schedule_campaign_sends resumes after the last id), and created_at so a
-- segment's anti-join (a negated lookup) reads a workspace's (created_at, id) pairs from the index
-- alone: 354 ms against 625-750 ms through the heap over the largest demo workspace (issue 18).
-- Older demo databases get it rebuilt.
DO $$
BEGIN
    IF position('created_at' IN coalesce(pg_get_indexdef(to_regclass('demo.idx_leads_workspace_id')), 'created_at')) = 0 THEN
        DROP INDEX demo.idx_leads_workspace_id;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS idx_leads_workspace_id
    ON demo.leads (workspace_id, id) INCLUDE (status, created_at);
-- Newest leads first.
CREATE INDEX IF NOT EXISTS idx_leads_workspace_created_at
    ON demo.leads (workspace_id, created_at DESC);
-- Exact address lookups across workspaces (suppression, bounces).
CREATE INDEX IF NOT EXISTS idx_leads_email_hash
    ON demo.leads USING hash (email);
-- Segments on tags and custom fields (seed 001 GIN indexes), led by the workspace (btree_gin): a
-- segment is always one workspace's, and without it a common value (`country = US`) matched in
-- every workspace made a bitmap of a tenth of the table, lossy, rechecked row by row (1.4 s
-- instead of 0.1 s for a nested AND/OR over 2M leads). Older demo databases get them rebuilt.
CREATE EXTENSION IF NOT EXISTS btree_gin;
DO $$
BEGIN
    IF position('workspace_id' IN coalesce(pg_get_indexdef(to_regclass('demo.idx_leads_tags_gin')), 'workspace_id')) = 0 THEN
        DROP INDEX demo.idx_leads_tags_gin;
    END IF;
    IF position('workspace_id' IN coalesce(pg_get_indexdef(to_regclass('demo.idx_leads_custom_fields_gin')), 'workspace_id')) = 0 THEN
        DROP INDEX demo.idx_leads_custom_fields_gin;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS idx_leads_tags_gin
    ON demo.leads USING gin (workspace_id, tags);
CREATE INDEX IF NOT EXISTS idx_leads_custom_fields_gin
    ON demo.leads USING gin (workspace_id, custom_fields jsonb_path_ops);
-- Seed 000's "hot leads" index used `last_contacted_at > CURRENT_DATE - 7 days` as its predicate,
-- which Postgres rejects (index predicates must be immutable); the index keeps the recency
-- column instead, so "contacted in the last 7 days" is a range scan on it.
CREATE INDEX IF NOT EXISTS idx_leads_contactable_recent
    ON demo.leads (workspace_id, last_contacted_at DESC)
    WHERE status IN ('active', 'verified');
CREATE INDEX IF NOT EXISTS idx_leads_unsubscribed
    ON demo.leads (workspace_id, updated_at DESC)
    WHERE status = 'unsubscribed';

-- Segment rules' `contains` / `ends_with` on email and company (issue 10): trigram indexes make
-- ILIKE '%…%' an index scan instead of a scan of every lead of the workspace. Led by the
-- workspace (btree_gin, issue 18): without it a common domain (`ends_with @gmail.com`) found its
-- 166,720 leads in every workspace and was ANDed with a bitmap of the whole workspace (260 ms of
-- a 370 ms segment over the largest one; 35 ms led by the workspace). Older demo databases get
-- them rebuilt.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DO $$
BEGIN
    IF position('workspace_id' IN coalesce(pg_get_indexdef(to_regclass('demo.idx_leads_email_trgm')), 'workspace_id')) = 0 THEN
        DROP INDEX demo.idx_leads_email_trgm;
    END IF;
    IF position('workspace_id' IN coalesce(pg_get_indexdef(to_regclass('demo.idx_leads_company_trgm')), 'workspace_id')) = 0 THEN
        DROP INDEX demo.idx_leads_company_trgm;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS idx_leads_email_trgm
    ON demo.leads USING gin (workspace_id, email gin_trgm_ops);
CREATE INDEX IF NOT EXISTS idx_leads_company_trgm
    ON demo.leads USING gin (workspace_id, company gin_trgm_ops);
-- A custom field's `contains` (`(custom_fields ->> 'industry') ILIKE '%fin%'`, the key written out by
-- the segment compiler) is served by an expression trigram index on that key, led by the
-- workspace; a key without one costs a pass over the workspace (250 ms over the largest demo
-- workspace under load, issue 18). The demo indexes the key its bench segments by substring.
CREATE INDEX IF NOT EXISTS idx_leads_industry_trgm
    ON demo.leads USING gin (workspace_id, (custom_fields ->> 'industry') gin_trgm_ops);

-- High-churn table: vacuum and analyze sooner than the global defaults (seed 004).
ALTER TABLE demo.leads SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02);

-- Campaigns ---------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS demo.campaigns (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id      uuid NOT NULL REFERENCES demo.workspaces (id) ON DELETE CASCADE,
    name              text NOT NULL,
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'scheduled', 'sending', 'sent', 'completed', 'paused', 'cancelled')),
    subject           text NOT NULL DEFAULT '',
    from_email        text NOT NULL CHECK (position('@' IN from_email) > 1),
    total_recipients  integer NOT NULL DEFAULT 0,
    scheduled_at      timestamptz,
    started_at        timestamptz,
    completed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_campaigns_workspace_status
    ON demo.campaigns (workspace_id, status);
CREATE INDEX IF NOT EXISTS idx_campaigns_workspace_created
    ON demo.campaigns (workspace_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_campaigns_scheduled
    ON demo.campaigns (scheduled_at)
    WHERE status = 'scheduled';

-- AI usage (seed 000's workspace usage analytics counts it) -----------------------------------------

CREATE TABLE IF NOT EXISTS demo.ai_usage (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES demo.workspaces (id) ON DELETE CASCADE,
    feature       text NOT NULL,
    tokens_used   integer NOT NULL CHECK (tokens_used >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_ai_usage_workspace_created
    ON demo.ai_usage (workspace_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_ai_usage_created
    ON demo.ai_usage (created_at);

-- Email sends: one row per lead per campaign, partitioned by month (seed 001) ----------------------

-- Time-ordered ids (UUIDv7, RFC 9562: 48 bits of Unix milliseconds, then random bits): new rows
-- land at the right edge of a primary key's btree instead of on a random page of it, so a million
-- sends touch a few thousand index pages rather than every page. (Postgres 18 has uuidv7().)
CREATE OR REPLACE FUNCTION demo.uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
        52, 1), 53, 1), 'hex')::uuid
$$;

CREATE TABLE IF NOT EXISTS demo.email_sends (
    id            uuid NOT NULL DEFAULT demo.uuid_v7(),
    workspace_id  uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    lead_id       uuid NOT NULL,
    batch_id      uuid,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'sent', 'delivered', 'bounced', 'failed', 'cancelled')),
    message_id    text,
    error         text,
    scheduled_at  timestamptz,
    sent_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS demo.email_sends_default PARTITION OF demo.email_sends DEFAULT;

CREATE INDEX IF NOT EXISTS idx_email_sends_workspace_created
    ON demo.email_sends (workspace_id, created_at DESC);
-- One send per lead per campaign: schedule_campaign_sends relies on it to schedule nobody twice
-- (a concurrent run's batch fails on it and is run again). Sends carry their campaign's
-- created_at, so the partition key in the index changes nothing for a campaign; it also serves
-- "the sends of a campaign".
ALTER TABLE demo.email_sends ALTER COLUMN id SET DEFAULT demo.uuid_v7();
DROP INDEX IF EXISTS demo.idx_email_sends_campaign_status;
CREATE UNIQUE INDEX IF NOT EXISTS idx_email_sends_campaign_lead
    ON demo.email_sends (campaign_id, lead_id, created_at);
CREATE INDEX IF NOT EXISTS idx_email_sends_lead
    ON demo.email_sends (lead_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_email_sends_pending
    ON demo.email_sends (scheduled_at)
    WHERE status = 'queued';

-- Email events: delivery, opens, clicks, replies, bounces, complaints (seed 000) -----------------

CREATE TABLE IF NOT EXISTS demo.email_events (
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    lead_id       uuid NOT NULL,
    send_id       uuid,
    event_type    text NOT NULL
                  CHECK (event_type IN ('sent', 'delivered', 'opened', 'clicked', 'replied',
                                        'bounced', 'complained', 'unsubscribed')),
    bounce_type   text CHECK (bounce_type IN ('hard', 'soft')),
    url           text,
    user_agent    text,
    metadata      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS demo.email_events_default PARTITION OF demo.email_events DEFAULT;

CREATE INDEX IF NOT EXISTS idx_email_events_workspace_created
    ON demo.email_events (workspace_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_email_events_campaign_type
    ON demo.email_events (campaign_id, event_type);
CREATE INDEX IF NOT EXISTS idx_email_events_lead_created
    ON demo.email_events (lead_id, created_at DESC);

-- Lead activities: the per-lead timeline (seed 001) --------------------------------------------

CREATE TABLE IF NOT EXISTS demo.lead_activities (
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    workspace_id   uuid NOT NULL,
    lead_id        uuid NOT NULL,
    activity_type  text NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS demo.lead_activities_default PARTITION OF demo.lead_activities DEFAULT;

CREATE INDEX IF NOT EXISTS idx_lead_activities_workspace_lead_created
    ON demo.lead_activities (workspace_id, lead_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_lead_activities_type_created
    ON demo.lead_activities (activity_type, created_at DESC);

-- Initial monthly partitions: 14 months back to 1 month ahead, UTC month boundaries -----------
-- (as a platform running for over a year would have: the partitions job makes the rest ahead
-- and retires what is past retention)

DO $partitions$
DECLARE
    parent text;
    first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC') - interval '14 months';
    lo timestamp;
    hi timestamp;
    child text;
BEGIN
    FOREACH parent IN ARRAY ARRAY['email_sends', 'email_events', 'lead_activities'] LOOP
        FOR i IN 0..15 LOOP
            lo := first_month + make_interval(months => i);
            hi := lo + interval '1 month';
            child := parent || '_p' || to_char(lo, 'YYYY_MM');
            IF to_regclass(format('demo.%I', child)) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE demo.%I PARTITION OF demo.%I FOR VALUES FROM (%L) TO (%L)',
                    child, parent,
                    to_char(lo, 'YYYY-MM-DD HH24:MI:SS') || '+00',
                    to_char(hi, 'YYYY-MM-DD HH24:MI:SS') || '+00');
            END IF;
        END LOOP;
    END LOOP;
END
$partitions$;

-- Materialized views ---------------------------------------------------------------------------
-- Each has a unique index on plain columns with no WHERE clause, which is what
-- REFRESH MATERIALIZED VIEW CONCURRENTLY needs. They are created WITH DATA (empty on a fresh
-- schema), so they are populated and a concurrent refresh works from the start.

-- Campaign performance (seed 000: hourly). Rates are percentages of the sends that went out.
CREATE MATERIALIZED VIEW IF NOT EXISTS demo.campaign_analytics AS
WITH sends AS (
    SELECT campaign_id,
           count(*) FILTER (WHERE status IN ('sent', 'delivered', 'bounced')) AS sent_count,
           count(*) FILTER (WHERE status = 'delivered') AS delivered_count,
           count(*) FILTER (WHERE status = 'bounced') AS bounced_count,
           count(*) FILTER (WHERE status = 'failed') AS failed_count
    FROM demo.email_sends
    GROUP BY campaign_id
), events AS (
    SELECT campaign_id,
           count(DISTINCT lead_id) FILTER (WHERE event_type = 'opened') AS opened_count,
           count(DISTINCT lead_id) FILTER (WHERE event_type = 'clicked') AS clicked_count,
           count(DISTINCT lead_id) FILTER (WHERE event_type = 'replied') AS replied_count,
           count(DISTINCT lead_id) FILTER (WHERE event_type = 'unsubscribed') AS unsubscribed_count,
           count(DISTINCT lead_id) FILTER (WHERE event_type = 'complained') AS complained_count,
           max(created_at) AS last_event_at
    FROM demo.email_events
    GROUP BY campaign_id
)
SELECT c.workspace_id,
       c.id AS campaign_id,
       c.name AS campaign_name,
       c.status,
       c.total_recipients,
       coalesce(s.sent_count, 0) AS sent_count,
       coalesce(s.delivered_count, 0) AS delivered_count,
       coalesce(s.bounced_count, 0) AS bounced_count,
       coalesce(s.failed_count, 0) AS failed_count,
       coalesce(e.opened_count, 0) AS opened_count,
       coalesce(e.clicked_count, 0) AS clicked_count,
       coalesce(e.replied_count, 0) AS replied_count,
       coalesce(e.unsubscribed_count, 0) AS unsubscribed_count,
       coalesce(e.complained_count, 0) AS complained_count,
       CASE WHEN coalesce(s.sent_count, 0) > 0
            THEN round(100.0 * s.delivered_count / s.sent_count, 2) ELSE 0 END AS delivery_rate,
       CASE WHEN coalesce(s.sent_count, 0) > 0
            THEN round(100.0 * coalesce(e.opened_count, 0) / s.sent_count, 2) ELSE 0 END AS open_rate,
       CASE WHEN coalesce(s.sent_count, 0) > 0
            THEN round(100.0 * coalesce(e.clicked_count, 0) / s.sent_count, 2) ELSE 0 END AS click_rate,
       CASE WHEN coalesce(s.sent_count, 0) > 0
            THEN round(100.0 * coalesce(e.replied_count, 0) / s.sent_count, 2) ELSE 0 END AS reply_rate,
       CASE WHEN coalesce(s.sent_count, 0) > 0
            THEN round(100.0 * s.bounced_count / s.sent_count, 2) ELSE 0 END AS bounce_rate,
       e.last_event_at,
       now() AS refreshed_at
FROM demo.campaigns c
LEFT JOIN sends s ON s.campaign_id = c.id
LEFT JOIN events e ON e.campaign_id = c.id
WITH DATA;

CREATE UNIQUE INDEX IF NOT EXISTS campaign_analytics_campaign_id_key
    ON demo.campaign_analytics (campaign_id);
CREATE INDEX IF NOT EXISTS campaign_analytics_workspace
    ON demo.campaign_analytics (workspace_id);

-- Workspace usage (seed 000: daily): leads, campaigns, email volume and AI usage per tenant.
CREATE MATERIALIZED VIEW IF NOT EXISTS demo.workspace_usage_analytics AS
WITH lead_counts AS (
    SELECT workspace_id,
           count(*) AS lead_count,
           count(*) FILTER (WHERE status IN ('active', 'verified')) AS contactable_lead_count,
           count(*) FILTER (WHERE created_at >= now() - interval '30 days') AS leads_added_30d
    FROM demo.leads
    GROUP BY workspace_id
), campaign_counts AS (
    SELECT workspace_id,
           count(*) AS campaign_count,
           count(*) FILTER (WHERE status IN ('scheduled', 'sending')) AS active_campaign_count
    FROM demo.campaigns
    GROUP BY workspace_id
), send_counts AS (
    SELECT workspace_id,
           count(*) FILTER (WHERE status IN ('sent', 'delivered', 'bounced')) AS emails_sent_30d,
           max(sent_at) AS last_sent_at
    FROM demo.email_sends
    WHERE created_at >= now() - interval '30 days'
    GROUP BY workspace_id
), ai AS (
    SELECT workspace_id,
           count(*) AS ai_requests_30d,
           sum(tokens_used) AS ai_tokens_30d
    FROM demo.ai_usage
    WHERE created_at >= now() - interval '30 days'
    GROUP BY workspace_id
)
SELECT w.id AS workspace_id,
       w.name AS workspace_name,
       w.plan,
       coalesce(l.lead_count, 0) AS lead_count,
       coalesce(l.contactable_lead_count, 0) AS contactable_lead_count,
       coalesce(l.leads_added_30d, 0) AS leads_added_30d,
       coalesce(c.campaign_count, 0) AS campaign_count,
       coalesce(c.active_campaign_count, 0) AS active_campaign_count,
       coalesce(s.emails_sent_30d, 0) AS emails_sent_30d,
       s.last_sent_at,
       coalesce(a.ai_requests_30d, 0) AS ai_requests_30d,
       coalesce(a.ai_tokens_30d, 0) AS ai_tokens_30d,
       now() AS refreshed_at
FROM demo.workspaces w
LEFT JOIN lead_counts l ON l.workspace_id = w.id
LEFT JOIN campaign_counts c ON c.workspace_id = w.id
LEFT JOIN send_counts s ON s.workspace_id = w.id
LEFT JOIN ai a ON a.workspace_id = w.id
WITH DATA;

CREATE UNIQUE INDEX IF NOT EXISTS workspace_usage_analytics_workspace_id_key
    ON demo.workspace_usage_analytics (workspace_id);

-- Lead scoring (seed 000: every 6 hours). Score 0-100 from the last 90 days of events:
-- 2 per open, 5 per click, 15 per reply, plus 20 for engagement in the last 7 days or 10 in the
-- last 30, capped at 100; bounced, unsubscribed and invalid leads and complainers score 0.
-- Level: hot >= 60, warm >= 25, cold below.
CREATE MATERIALIZED VIEW IF NOT EXISTS demo.lead_engagement_scores AS
WITH ev AS (
    SELECT lead_id,
           count(*) FILTER (WHERE event_type = 'opened') AS opens_90d,
           count(*) FILTER (WHERE event_type = 'clicked') AS clicks_90d,
           count(*) FILTER (WHERE event_type = 'replied') AS replies_90d,
           count(*) FILTER (WHERE event_type = 'complained') AS complaints_90d,
           max(created_at) FILTER (WHERE event_type IN ('opened', 'clicked', 'replied')) AS last_engaged_at
    FROM demo.email_events
    WHERE created_at >= now() - interval '90 days'
    GROUP BY lead_id
), scored AS (
    SELECT l.id AS lead_id,
           l.workspace_id,
           l.status,
           coalesce(ev.opens_90d, 0) AS opens_90d,
           coalesce(ev.clicks_90d, 0) AS clicks_90d,
           coalesce(ev.replies_90d, 0) AS replies_90d,
           ev.last_engaged_at,
           CASE
               WHEN l.status IN ('bounced', 'unsubscribed', 'invalid') OR coalesce(ev.complaints_90d, 0) > 0 THEN 0
               ELSE least(100,
                   2 * coalesce(ev.opens_90d, 0)
                   + 5 * coalesce(ev.clicks_90d, 0)
                   + 15 * coalesce(ev.replies_90d, 0)
                   + CASE WHEN ev.last_engaged_at >= now() - interval '7 days' THEN 20
                          WHEN ev.last_engaged_at >= now() - interval '30 days' THEN 10
                          ELSE 0 END)
           END::integer AS engagement_score
    FROM demo.leads l
    LEFT JOIN ev ON ev.lead_id = l.id
)
SELECT lead_id,
       workspace_id,
       status,
       opens_90d,
       clicks_90d,
       replies_90d,
       last_engaged_at,
       engagement_score,
       CASE WHEN engagement_score >= 60 THEN 'hot'
            WHEN engagement_score >= 25 THEN 'warm'
            ELSE 'cold' END AS engagement_level,
       now() AS refreshed_at
FROM scored
WITH DATA;

CREATE UNIQUE INDEX IF NOT EXISTS lead_engagement_scores_lead_id_key
    ON demo.lead_engagement_scores (lead_id);
CREATE INDEX IF NOT EXISTS lead_engagement_scores_workspace_score
    ON demo.lead_engagement_scores (workspace_id, engagement_score DESC);
-- Segment rules on engagement_level (a lookup confined to the workspace): the workspace's leads
-- of a level come from this index alone.
CREATE INDEX IF NOT EXISTS lead_engagement_scores_workspace_level
    ON demo.lead_engagement_scores (workspace_id, engagement_level, lead_id);

-- Deliverability (seed 000: every 2 hours), per workspace, sending domain and UTC day over the
-- last 30 days. Rates are percentages of sends that went out; reputation starts at 100 and loses
-- 5 points per percent of hard bounces, 2 per percent of soft bounces and 100 per percent of
-- complaints (mailbox providers start filtering around 0.1 % complaints), floored at 0.
CREATE MATERIALIZED VIEW IF NOT EXISTS demo.email_deliverability_metrics AS
WITH sends AS (
    SELECT s.workspace_id,
           lower(split_part(c.from_email, '@', 2)) AS sending_domain,
           (date_trunc('day', s.created_at AT TIME ZONE 'UTC'))::date AS day,
           count(*) FILTER (WHERE s.status IN ('sent', 'delivered', 'bounced')) AS sent_count,
           count(*) FILTER (WHERE s.status = 'delivered') AS delivered_count
    FROM demo.email_sends s
    JOIN demo.campaigns c ON c.id = s.campaign_id
    WHERE s.created_at >= now() - interval '30 days'
    GROUP BY 1, 2, 3
), events AS (
    SELECT e.workspace_id,
           lower(split_part(c.from_email, '@', 2)) AS sending_domain,
           (date_trunc('day', e.created_at AT TIME ZONE 'UTC'))::date AS day,
           count(*) FILTER (WHERE e.event_type = 'bounced' AND e.bounce_type = 'hard') AS hard_bounces,
           count(*) FILTER (WHERE e.event_type = 'bounced' AND e.bounce_type IS DISTINCT FROM 'hard') AS soft_bounces,
           count(*) FILTER (WHERE e.event_type = 'complained') AS complaints,
           count(*) FILTER (WHERE e.event_type = 'unsubscribed') AS unsubscribes
    FROM demo.email_events e
    JOIN demo.campaigns c ON c.id = e.campaign_id
    WHERE e.created_at >= now() - interval '30 days'
      AND e.event_type IN ('bounced', 'complained', 'unsubscribed')
    GROUP BY 1, 2, 3
), joined AS (
    SELECT coalesce(s.workspace_id, e.workspace_id) AS workspace_id,
           coalesce(s.sending_domain, e.sending_domain) AS sending_domain,
           coalesce(s.day, e.day) AS day,
           coalesce(s.sent_count, 0) AS sent_count,
           coalesce(s.delivered_count, 0) AS delivered_count,
           coalesce(e.hard_bounces, 0) AS hard_bounces,
           coalesce(e.soft_bounces, 0) AS soft_bounces,
           coalesce(e.complaints, 0) AS complaints,
           coalesce(e.unsubscribes, 0) AS unsubscribes
    FROM sends s
    FULL JOIN events e
      ON e.workspace_id = s.workspace_id AND e.sending_domain = s.sending_domain AND e.day = s.day
), rated AS (
    SELECT *,
           CASE WHEN sent_count > 0 THEN 100.0 * (hard_bounces + soft_bounces) / sent_count ELSE 0 END AS bounce_pct,
           CASE WHEN sent_count > 0 THEN 100.0 * hard_bounces / sent_count ELSE 0 END AS hard_pct,
           CASE WHEN sent_count > 0 THEN 100.0 * soft_bounces / sent_count ELSE 0 END AS soft_pct,
           CASE WHEN sent_count > 0 THEN 100.0 * complaints / sent_count ELSE 0 END AS complaint_pct
    FROM joined
)
SELECT workspace_id,
       sending_domain,
       day,
       sent_count,
       delivered_count,
       hard_bounces,
       soft_bounces,
       complaints,
       unsubscribes,
       round(bounce_pct, 2) AS bounce_rate,
       round(complaint_pct, 3) AS complaint_rate,
       round(greatest(0, 100 - 5 * hard_pct - 2 * soft_pct - 100 * complaint_pct), 1) AS reputation_score,
       now() AS refreshed_at
FROM rated
WITH DATA;

CREATE UNIQUE INDEX IF NOT EXISTS email_deliverability_metrics_key
    ON demo.email_deliverability_metrics (workspace_id, sending_domain, day);
