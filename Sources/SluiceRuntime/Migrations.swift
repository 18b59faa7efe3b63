// Migrations: the versioned DDL of the `sluice` schema (the job ledger and its helpers).
//
// `sluice migrate` applies the ones not yet recorded in `sluice.schema_migrations`, each in its
// own transaction, under a transaction-scoped advisory lock so two replicas migrating at once
// apply each version once. Never edit a shipped migration: add a new one.

import Foundation
import Postgres

public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}

public enum Migrations {
    /// The advisory lock key taken while migrating ('sluice' as ASCII, to keep it recognisable).
    public static let lockKey: Int64 = 0x736C_7569_6365

    /// The migrations with `{schema}` replaced by the quoted schema name.
    public static func all(schema: String) -> [Migration] {
        let quoted = PostgresIdentifier.quote(schema)
        return all.map { Migration(version: $0.version, name: $0.name, sql: $0.sql.replacingOccurrences(of: "{schema}", with: quoted)) }
    }

    /// The migrations as written, `{schema}` standing for the ledger schema.
    public static let all: [Migration] = [
        Migration(version: 1, name: "job ledger", sql: """
            CREATE TABLE {schema}.jobs (
                id            uuid PRIMARY KEY,
                kind          text NOT NULL,
                class         text NOT NULL,
                target        text NOT NULL,
                args          jsonb NOT NULL DEFAULT '{}',
                state         text NOT NULL CHECK (state IN
                                ('available','scheduled','running','retryable','completed','cancelled','discarded')),
                attempt       integer NOT NULL DEFAULT 1,
                max_attempts  integer NOT NULL DEFAULT 5,
                timeout_s     integer NOT NULL DEFAULT 900,
                priority      smallint,
                unique_key    text,
                lease_until   timestamptz,
                worker        text,
                enqueued_at   timestamptz NOT NULL,
                not_before    timestamptz,
                started_at    timestamptz,
                finished_at   timestamptz,
                progress      jsonb,
                error         text,
                result        jsonb,
                producer      text,
                trace_id      text,
                cancel_requested boolean NOT NULL DEFAULT false
            );
            -- At most one live job per unique key: the producer's INSERT … ON CONFLICT relies on it.
            CREATE UNIQUE INDEX jobs_unique_key_live ON {schema}.jobs (unique_key)
                WHERE unique_key IS NOT NULL AND state IN ('available','scheduled','running','retryable');
            -- The leader's rescue scan: running jobs by lease expiry.
            CREATE INDEX jobs_running_lease ON {schema}.jobs (lease_until) WHERE state = 'running';
            -- `sluice status` and retention: recent finished jobs per class and state.
            CREATE INDEX jobs_class_state_finished ON {schema}.jobs (class, state, finished_at);
            -- Leadership leases (the lease-expiry rescuer, the scheduler): one row per role.
            CREATE TABLE {schema}.leases (
                name        text PRIMARY KEY,
                holder      text NOT NULL,
                expires_at  timestamptz NOT NULL,
                acquired_at timestamptz NOT NULL DEFAULT now()
            );
            """),
        Migration(version: 2, name: "schedules", sql: """
            -- The scheduler's state: one row per schedule, written by the leader in the same
            -- transaction as the fires it records.
            CREATE TABLE {schema}.schedules (
                name        text PRIMARY KEY,
                last_fire   timestamptz,
                next_fire   timestamptz,
                updated_at  timestamptz NOT NULL DEFAULT now()
            );
            -- One row per fire: the primary key deduplicates fires across leaders. job_id is NULL
            -- from the insert until the enqueue confirmed; a leader re-enqueues such rows.
            CREATE TABLE {schema}.schedule_fires (
                schedule    text NOT NULL,
                fire_time   timestamptz NOT NULL,
                job_id      uuid,
                fired_at    timestamptz NOT NULL DEFAULT now(),
                enqueued_at timestamptz,
                duplicate   boolean NOT NULL DEFAULT false,
                manual      boolean NOT NULL DEFAULT false,
                attempts    integer NOT NULL DEFAULT 0,
                error       text,
                PRIMARY KEY (schedule, fire_time, manual)
            );
            -- The recovery scan: fires whose enqueue never confirmed.
            CREATE INDEX schedule_fires_pending ON {schema}.schedule_fires (fired_at) WHERE job_id IS NULL;
            """),
        Migration(version: 3, name: "imports", sql: """
            -- Files uploaded for import.file, stored where every worker can read them, in chunks
            -- of about 1 MiB so no side holds a whole file in memory. Deleted when the job ends;
            -- kept until expires_at when it failed.
            CREATE TABLE {schema}.uploads (
                id          uuid PRIMARY KEY,
                spec        text NOT NULL,
                file_name   text NOT NULL,
                bytes       bigint NOT NULL DEFAULT 0,
                chunks      integer NOT NULL DEFAULT 0,
                complete    boolean NOT NULL DEFAULT false,
                job_id      uuid,
                created_at  timestamptz NOT NULL DEFAULT now(),
                expires_at  timestamptz
            );
            CREATE TABLE {schema}.upload_chunks (
                upload_id   uuid NOT NULL REFERENCES {schema}.uploads (id) ON DELETE CASCADE,
                seq         integer NOT NULL,
                data        bytea NOT NULL,
                PRIMARY KEY (upload_id, seq)
            );
            -- Every row an import rejected, by job, for `sluice import rejects ID`.
            CREATE TABLE {schema}.import_rejects (
                job_id      uuid NOT NULL,
                line        bigint NOT NULL,
                column_name text,
                reason      text NOT NULL
            );
            CREATE INDEX import_rejects_job ON {schema}.import_rejects (job_id, line);
            """),
        Migration(version: 4, name: "saved segments", sql: """
            -- analytics.segment with store: true: the rules as compiled and the members at that
            -- moment, so a campaign's sends can be scheduled for exactly these leads.
            CREATE TABLE {schema}.segments (
                id            uuid PRIMARY KEY,
                target        text NOT NULL,
                workspace_id  uuid NOT NULL,
                rules         jsonb NOT NULL,
                member_count  bigint NOT NULL,
                job_id        uuid,
                created_at    timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX segments_workspace ON {schema}.segments (target, workspace_id, created_at DESC);
            CREATE TABLE {schema}.segment_members (
                segment_id  uuid NOT NULL REFERENCES {schema}.segments (id) ON DELETE CASCADE,
                member_id   uuid NOT NULL,
                PRIMARY KEY (segment_id, member_id)
            );
            """),
        Migration(version: 5, name: "api: job search indexes, idempotency keys", sql: """
            -- `GET /v1/jobs` pages by id (UUIDv7, so time order) with a keyset cursor; each filter
            -- gets an index whose second column is id, so a filtered page is an index range scan
            -- however large the ledger. `target` has no index of its own: there are few targets,
            -- so the id scan with a filter stops after a page as quickly as an index would.
            CREATE INDEX IF NOT EXISTS jobs_state_id ON {schema}.jobs (state, id);
            CREATE INDEX IF NOT EXISTS jobs_kind_id ON {schema}.jobs (kind, id);
            CREATE INDEX IF NOT EXISTS jobs_class_id ON {schema}.jobs (class, id);
            -- `q=`: search by unique key, exact or prefix (the live-only unique index cannot serve
            -- finished jobs).
            CREATE INDEX IF NOT EXISTS jobs_unique_key_prefix ON {schema}.jobs (unique_key text_pattern_ops)
                WHERE unique_key IS NOT NULL;
            -- `POST /v1/jobs` with an Idempotency-Key header: the first request's response, kept
            -- so a retry gets the same answer and enqueues nothing. `response` is NULL while the
            -- first request is still being served.
            CREATE TABLE IF NOT EXISTS {schema}.api_idempotency (
                key            text PRIMARY KEY,
                request_sha256 text NOT NULL,
                status         integer,
                response       text,
                created_at     timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS api_idempotency_created ON {schema}.api_idempotency (created_at);
            """),
        Migration(version: 6, name: "retention: pruner indexes and status", sql: """
            -- The pruner removes finished jobs by (class, state, finished_at) through the index of
            -- migration 1; these serve the side tables it removes with them or after them.
            -- Every job is inserted, updated twice (claim, finish: `state` is indexed, so never a
            -- HOT update) and deleted by the pruner: three dead tuples per job. Autovacuum's
            -- defaults wait for 20 % of the table to be dead; a queue table wants it far sooner and
            -- unthrottled, so the space of pruned rows is reused instead of the file growing.
            ALTER TABLE {schema}.jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 5000,
                autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02,
                autovacuum_vacuum_cost_delay = 0);
            -- An import's upload goes with its job.
            CREATE INDEX IF NOT EXISTS uploads_job ON {schema}.uploads (job_id) WHERE job_id IS NOT NULL;
            -- Old fires, oldest first (the scheduler keeps what its exactly-once rule needs).
            CREATE INDEX IF NOT EXISTS schedule_fires_fired ON {schema}.schedule_fires (fired_at);
            -- Segments replaced by a newer one of the same rules, workspace and target.
            CREATE INDEX IF NOT EXISTS segments_rules ON {schema}.segments (target, workspace_id, md5(rules::text), created_at);
            -- The pruner's last pass, one row per schema, for `sluice status` and /metrics: who
            -- ran it, when, what it removed (per table, JSON), and the ledger's size after it.
            CREATE TABLE IF NOT EXISTS {schema}.pruner_status (
                id              boolean PRIMARY KEY DEFAULT true CHECK (id),
                holder          text NOT NULL,
                started_at      timestamptz NOT NULL,
                finished_at     timestamptz NOT NULL,
                removed         jsonb NOT NULL DEFAULT '{}',
                removed_total   bigint NOT NULL DEFAULT 0,
                ledger_rows     bigint,
                ledger_bytes    bigint,
                ledger_dead     bigint,
                error           text
            );
            """),
        Migration(version: 7, name: "ledger: live jobs apart, finished history in time partitions", sql: """
            -- `jobs` becomes a partitioned table under the same name and columns, so every
            -- statement that names it is unchanged: LIST by state into `jobs_live` (the four live
            -- states: small, hot, the only place a unique key is enforced) and one table per
            -- final state, each RANGE-partitioned by `finished_at` (the clock retention counts
            -- from, so a partition whose upper bound is past retention holds nothing younger and
            -- is dropped whole, leaving no dead tuples). A finish moves the row out of `jobs_live`
            -- (Postgres row movement: one UPDATE, as before). The pruner makes range partitions
            -- ahead and drops them (`Ledger+Partitions`); each final state also has a DEFAULT
            -- partition, so a finish never fails for want of one (the pruner deletes its old rows
            -- by batches).
            -- The old table is not copied: its live, cancelled and discarded rows (and completed
            -- ones without a finish time) move out, then the rest, all completed, is attached as
            -- the completed range (MINVALUE, now) after a CHECK that proves the bound, and leaves
            -- by the pruner's batches or as a whole once wholly past retention. Finishes from now
            -- until the pruner's first pass made ranges land in the DEFAULT partitions.
            LOCK TABLE {schema}.jobs IN ACCESS EXCLUSIVE MODE;
            ALTER TABLE {schema}.jobs RENAME TO jobs_history;
            ALTER INDEX {schema}.jobs_pkey RENAME TO jobs_history_pkey;
            ALTER INDEX {schema}.jobs_class_state_finished RENAME TO jobs_history_class_state_finished;
            ALTER INDEX {schema}.jobs_state_id RENAME TO jobs_history_state_id;
            ALTER INDEX {schema}.jobs_kind_id RENAME TO jobs_history_kind_id;
            ALTER INDEX {schema}.jobs_class_id RENAME TO jobs_history_class_id;
            ALTER INDEX {schema}.jobs_unique_key_prefix RENAME TO jobs_history_unique_key_prefix;
            -- Live-only indexes: the history holds no live row once they moved.
            DROP INDEX {schema}.jobs_unique_key_live;
            DROP INDEX {schema}.jobs_running_lease;
            CREATE TABLE {schema}.jobs (LIKE {schema}.jobs_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
                PARTITION BY LIST (state);
            -- Three dead tuples per job here (insert, claim, finish's move out): autovacuum early
            -- and unthrottled, as migration 6 set on the old table.
            CREATE TABLE {schema}.jobs_live PARTITION OF {schema}.jobs (PRIMARY KEY (id))
                FOR VALUES IN ('available','scheduled','running','retryable')
                WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 5000,
                      autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02,
                      autovacuum_vacuum_cost_delay = 0);
            CREATE TABLE {schema}.jobs_completed PARTITION OF {schema}.jobs FOR VALUES IN ('completed') PARTITION BY RANGE (finished_at);
            CREATE TABLE {schema}.jobs_cancelled PARTITION OF {schema}.jobs FOR VALUES IN ('cancelled') PARTITION BY RANGE (finished_at);
            CREATE TABLE {schema}.jobs_discarded PARTITION OF {schema}.jobs FOR VALUES IN ('discarded') PARTITION BY RANGE (finished_at);
            CREATE TABLE {schema}.jobs_completed_default PARTITION OF {schema}.jobs_completed (PRIMARY KEY (id)) DEFAULT;
            CREATE TABLE {schema}.jobs_cancelled_default PARTITION OF {schema}.jobs_cancelled (PRIMARY KEY (id)) DEFAULT;
            CREATE TABLE {schema}.jobs_discarded_default PARTITION OF {schema}.jobs_discarded (PRIMARY KEY (id)) DEFAULT;
            -- One live job per unique key (the producer's INSERT … ON CONFLICT DO NOTHING): a
            -- unique index of a partitioned table must contain its partition key, so it lives on
            -- `jobs_live`, which holds every live row. The rescue scan's lease index likewise.
            CREATE UNIQUE INDEX jobs_unique_key_live ON {schema}.jobs_live (unique_key)
                WHERE unique_key IS NOT NULL AND state IN ('available','scheduled','running','retryable');
            CREATE INDEX jobs_running_lease ON {schema}.jobs_live (lease_until) WHERE state = 'running';
            -- The indexes of migrations 1 and 5, now on every partition; each leaf also has a
            -- primary key on id, so a job id finds its row (one index probe per partition) and a
            -- keyset page by id is a Merge Append of per-partition index scans. Ids are not
            -- enforced unique across partitions: they are UUIDv7 made by the producer, and a row
            -- only moves (claim, finish, replay), never is inserted twice.
            CREATE INDEX jobs_class_state_finished ON {schema}.jobs (class, state, finished_at);
            CREATE INDEX jobs_state_id ON {schema}.jobs (state, id);
            CREATE INDEX jobs_kind_id ON {schema}.jobs (kind, id);
            CREATE INDEX jobs_class_id ON {schema}.jobs (class, id);
            CREATE INDEX jobs_unique_key_prefix ON {schema}.jobs (unique_key text_pattern_ops) WHERE unique_key IS NOT NULL;
            DO $migration$
            DECLARE bound timestamptz := now();
            BEGIN
                WITH moved AS (
                    DELETE FROM {schema}.jobs_history
                    WHERE NOT (state = 'completed' AND finished_at IS NOT NULL AND finished_at < bound) RETURNING *)
                INSERT INTO {schema}.jobs SELECT * FROM moved;
                EXECUTE format('ALTER TABLE {schema}.jobs_history ADD CONSTRAINT jobs_history_bound
                    CHECK (state = %L AND finished_at IS NOT NULL AND finished_at < %L)', 'completed', bound);
                EXECUTE format('ALTER TABLE {schema}.jobs_completed ATTACH PARTITION {schema}.jobs_history
                    FOR VALUES FROM (MINVALUE) TO (%L)', bound);
            END
            $migration$;
            """),
        Migration(version: 8, name: "producer identity: enqueued_by", sql: """
            -- Who enqueued each job (an API token's name, a schedule, a parent job, a CLI user, a
            -- broker user, a signing key): README "Security". NULL for jobs enqueued before.
            ALTER TABLE {schema}.jobs ADD COLUMN IF NOT EXISTS enqueued_by text;
            """),
        Migration(version: 9, name: "ledger: (state, id) on the live leaf only", sql: """
            -- A final leaf holds one state, so its `(state, id)` entries repeat its primary key:
            -- one index insert per finish (every job) and its share of WAL and vacuum bought
            -- nothing. A listing by a final state is pruned to that state's leaves and reads
            -- their primary keys. The live leaf keeps its own (the claim-first path and listings
            -- of waiting or running jobs read it). Ranges the pruner makes from now on get only
            -- the partitioned indexes left. Locks `jobs_live` while its index is built (the work
            -- in flight; the history is not read).
            CREATE INDEX jobs_live_state_id ON {schema}.jobs_live (state, id);
            DROP INDEX {schema}.jobs_state_id;
            """),
    ]
}
