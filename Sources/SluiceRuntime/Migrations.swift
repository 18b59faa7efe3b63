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
    ]
}
