"""What the notifier keeps of each organisation (its settings, from its own
events on directory.events) and the appointment events parked until the
settings they were decided with arrive. Functions over the ledger's open
transaction (a cursor with dict rows), so keeping, parking and planning
commit together or not at all.
"""
from __future__ import annotations

import json
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from shared.envelope import CloudEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS organisations (
    id         text PRIMARY KEY,
    version    bigint NOT NULL,
    settings   jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS parked_events (
    event_id             text PRIMARY KEY,
    organisation_id      text NOT NULL,
    organisation_version bigint NOT NULL,   -- the settings' version it waits for
    position             bigint NOT NULL,
    envelope             jsonb NOT NULL,
    last_error           text,              -- why planning it failed when it was due
    parked_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS parked_by_organisation
    ON parked_events (organisation_id, organisation_version);
"""


def settings(cur: Cursor[Any], organisation_id: str, at_least: int) -> dict[str, Any] | None:
    """The organisation's settings if the version kept is `at_least` (None: not yet)."""
    row = cur.execute("SELECT settings FROM organisations WHERE id = %s AND version >= %s",
                      (organisation_id, at_least)).fetchone()
    return row["settings"] if row else None


def keep(cur: Cursor[Any], organisation_id: str, version: int, kept: dict[str, Any]) -> bool:
    """Keep a newer version of the settings; False when this one is not newer."""
    return cur.execute(
        """INSERT INTO organisations (id, version, settings) VALUES (%s, %s, %s)
           ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,
               settings = EXCLUDED.settings, updated_at = now()
           WHERE organisations.version < EXCLUDED.version RETURNING id""",
        (organisation_id, version, Jsonb(kept))).fetchone() is not None


def park(cur: Cursor[Any], event: CloudEvent, waits_for: int) -> None:
    cur.execute("INSERT INTO parked_events (event_id, organisation_id, organisation_version, "
                "position, envelope) VALUES (%s, %s, %s, %s, %s)",
                (event.id, event.orgid, waits_for, event.position,
                 Jsonb(json.loads(event.to_json()))))


def due(cur: Cursor[Any], organisation_id: str, version: int) -> list[CloudEvent]:
    """The events parked for this version of the settings (or an older one), oldest first."""
    rows = cur.execute("SELECT envelope FROM parked_events WHERE organisation_id = %s "
                       "AND organisation_version <= %s ORDER BY position FOR UPDATE",
                       (organisation_id, version)).fetchall()
    return [CloudEvent.from_json(json.dumps(row["envelope"])) for row in rows]


def unpark(cur: Cursor[Any], event_id: str) -> None:
    cur.execute("DELETE FROM parked_events WHERE event_id = %s", (event_id,))


def keep_parked(cur: Cursor[Any], event_id: str, error: str) -> None:
    cur.execute("UPDATE parked_events SET last_error = %s WHERE event_id = %s",
                (error[:1000], event_id))
