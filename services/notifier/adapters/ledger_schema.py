"""The notifier ledger's tables (services/notifier/adapters/ledger.py explains them)."""
from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (
    event_id          text PRIMARY KEY,
    event_type        text NOT NULL,
    appointment_id    text NOT NULL,
    aggregate_version bigint NOT NULL,
    position          bigint NOT NULL,
    outcome           text NOT NULL,          -- planned | stale | parked
    messages          int NOT NULL,
    processed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS appointment_versions (
    appointment_id text PRIMARY KEY,
    version        bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id                  bigserial PRIMARY KEY,
    event_id            text NOT NULL,
    event_type          text NOT NULL,
    appointment_id      text NOT NULL,
    organisation_id     text NOT NULL,
    aggregate_version   bigint NOT NULL,
    position            bigint NOT NULL,
    correlation_id      text NOT NULL DEFAULT '',
    channel             text NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient_kind      text NOT NULL
                        CHECK (recipient_kind IN ('client', 'organisation', 'resource')),
    recipient_ref       text NOT NULL,
    recipient_name      text NOT NULL DEFAULT '',
    address             text,                 -- NULL: no address, state skipped
    template            text NOT NULL,
    subject             text NOT NULL DEFAULT '',
    body_text           text NOT NULL DEFAULT '',
    body_html           text NOT NULL DEFAULT '',
    state               text NOT NULL
                        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'skipped',
                                         'suppressed')),
    attempts            int NOT NULL DEFAULT 0,
    last_error          text,
    -- pending: when it is due; sending: when the claim lapses (sender gone)
    next_attempt_at     timestamptz,
    give_up_at          timestamptz,
    provider_message_id text,
    -- when an attempt whose outcome is unknown began (sending, or a time-out):
    -- the provider is asked for it before the message goes out again
    unconfirmed_since   timestamptz,
    version             int NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz
);
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS unconfirmed_since timestamptz;
-- 'event': caused by an appointment event; 'reminder': by a reminder's timer, due at due_at
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'event';
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS due_at timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_once ON deliveries
    (event_id, channel, COALESCE(lower(address), recipient_kind || ':' || recipient_ref));
-- In the claim's order (next_attempt_at, id): a claim reads the first due rows, never
-- sorts the whole backlog (a poll of a thousand messages made each claim sort them all).
CREATE INDEX IF NOT EXISTS deliveries_due_in_order ON deliveries (channel, next_attempt_at, id)
    WHERE state IN ('pending', 'sending');
DROP INDEX IF EXISTS deliveries_due;
CREATE INDEX IF NOT EXISTS deliveries_open
    ON deliveries (appointment_id, channel, aggregate_version)
    WHERE state IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS deliveries_by_org ON deliveries (organisation_id, appointment_id, id);
CREATE INDEX IF NOT EXISTS deliveries_by_recipient
    ON deliveries (organisation_id, lower(address), created_at);
-- Ledgers created before 'suppressed' existed: widen the check once (NOT VALID:
-- every old row passes it, no scan).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'deliveries_state_check'
                   AND pg_get_constraintdef(oid) LIKE '%suppressed%') THEN
        ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_state_check;
        ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check CHECK (state IN
            ('pending', 'sending', 'sent', 'failed', 'skipped', 'suppressed')) NOT VALID;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS outbox (
    id       bigserial PRIMARY KEY,
    topic    text NOT NULL,
    key      text NOT NULL,
    headers  jsonb NOT NULL DEFAULT '{}',
    envelope jsonb NOT NULL
);
"""

COLUMNS = ("id, event_id, event_type, appointment_id, organisation_id, aggregate_version, "
            "correlation_id, channel, recipient_kind, address, template, subject, body_text, "
            "body_html, state, attempts, last_error, next_attempt_at, give_up_at, "
            "provider_message_id, version, created_at, updated_at, sent_at, kind, due_at")
