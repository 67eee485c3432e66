"""The client keys: one AES-GCM key per subject whose stored events carry a client's
personal data (an appointment, or a client of the directory), in booking's database.

Each row names the directory client the subject belongs to (`client_id`; null while an
appointment's client is tentative), so erasing a client destroys every key that seals
their data: their own entry's and that of each appointment linked to them. A destroyed
key is gone for good (`key` null, `erased_at` set); the events it sealed stay, unreadable.
"""
from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import Cursor
from psycopg.types.json import Jsonb

from services.booking.application.ports import Erasure
from services.booking.domain import personal_data
from shared.outage import Pool

DDL = """
CREATE TABLE IF NOT EXISTS booking_client_keys (
    subject_id text PRIMARY KEY,          -- the appointment or directory client sealed
    organisation_id text NOT NULL,
    client_id text,                       -- the directory client; null: tentative
    key bytea,                            -- null once erased
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS booking_client_keys_client
    ON booking_client_keys (organisation_id, client_id);
-- Erasures are few: counting them (erasures()) reads this small index only.
CREATE INDEX IF NOT EXISTS booking_client_keys_erased
    ON booking_client_keys (erased_at) WHERE erased_at IS NOT NULL;
"""


class PgKeys:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def key_for(self, organisation_id: str | None, subject: str,
                client_id: str | None) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT key, client_id FROM booking_client_keys "
                               "WHERE subject_id = %s", (subject,)).fetchone()
            if row is None:
                if not organisation_id:
                    raise ValueError(f"no organisation for the new key of {subject}")
                row = conn.execute(
                    "INSERT INTO booking_client_keys (subject_id, organisation_id, client_id, "
                    "key) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING key, client_id",
                    (subject, organisation_id, client_id, AESGCM.generate_key(256))).fetchone()
                if row is None:  # made meanwhile by a concurrent save
                    return self.key_for(organisation_id, subject, client_id)
            elif client_id and row[1] != client_id:  # a tentative client linked
                conn.execute("UPDATE booking_client_keys SET client_id = %s "
                             "WHERE subject_id = %s", (client_id, subject))
        return bytes(row[0]) if row[0] is not None else None

    def lookup(self, subject: str) -> tuple[bytes | None, bool]:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT key FROM booking_client_keys WHERE subject_id = %s",
                               (subject,), prepare=True).fetchone()
        if row is None:
            return None, False
        return (bytes(row[0]), False) if row[0] is not None else (None, True)

    def subjects(self, organisation_id: str, client_id: str) -> list[str]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT subject_id FROM booking_client_keys WHERE "
                                "organisation_id = %s AND client_id = %s AND subject_id <> %s "
                                "ORDER BY subject_id", (organisation_id, client_id, client_id))
            return [r[0] for r in rows.fetchall()]

    def erasures(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM booking_client_keys "
                               "WHERE erased_at IS NOT NULL").fetchone()
        return int(row[0]) if row else 0


def erase(curs: Cursor[Any], erasure: Erasure) -> None:
    """Destroy the client's keys and scrub the idempotent answers that show their data
    (inside the transaction that records the erasure). A client whose events all
    predate sealing gets an erased row all the same: their plain values read as erased."""
    org, client = erasure.organisation_id, erasure.client_id
    curs.execute("INSERT INTO booking_client_keys (subject_id, organisation_id, client_id, key, "
                 "erased_at) SELECT unnest(%s::text[]), %s, %s, NULL, now() "
                 "ON CONFLICT DO NOTHING", ([client, *erasure.subjects], org, client))
    curs.execute("UPDATE booking_client_keys SET key = NULL, erased_at = now() "
                 "WHERE organisation_id = %s AND (client_id = %s OR subject_id = ANY(%s)) "
                 "AND erased_at IS NULL", (org, client, [client, *erasure.subjects]))
    answers = curs.execute(
        "SELECT key, body FROM booking_idempotency WHERE organisation_id = %s AND "
        "(body->'appointment'->>'id' = ANY(%s) OR body->'client'->>'id' = %s)",
        (org, list(erasure.subjects), client)).fetchall()
    for row in answers:
        key, body = (row["key"], row["body"]) if isinstance(row, dict) else row
        curs.execute("UPDATE booking_idempotency SET body = %s WHERE organisation_id = %s "
                     "AND key = %s", (Jsonb(scrubbed(body)), org, key))


def scrubbed(body: dict[str, Any]) -> dict[str, Any]:
    """An idempotent answer as it reads once its client is erased."""
    if isinstance(body.get("appointment"), dict):
        personal_data.erased_appointment(body["appointment"])
    if isinstance(body.get("client"), dict):
        body["client"].update(personal_data.ERASED_CLIENT)
    return body


class MemoryKeys:
    """The same for the in-memory event store."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def key_for(self, organisation_id: str | None, subject: str,
                client_id: str | None) -> bytes | None:
        with self.lock:
            row = self.rows.setdefault(subject, {"organisation_id": organisation_id,
                                                 "client_id": client_id,
                                                 "key": AESGCM.generate_key(256)})
            if client_id:
                row["client_id"] = client_id
            return row["key"]  # type: ignore[no-any-return]

    def lookup(self, subject: str) -> tuple[bytes | None, bool]:
        with self.lock:
            row = self.rows.get(subject)
        if row is None:
            return None, False
        return row["key"], row["key"] is None

    def subjects(self, organisation_id: str, client_id: str) -> list[str]:
        with self.lock:
            return sorted(s for s, r in self.rows.items() if s != client_id
                          and r["organisation_id"] == organisation_id
                          and r["client_id"] == client_id)

    def erasures(self) -> int:
        with self.lock:
            return sum(1 for r in self.rows.values() if r["key"] is None)

    def erase(self, erasure: Erasure) -> None:
        with self.lock:
            for subject in (erasure.client_id, *erasure.subjects):
                self.rows.setdefault(subject, {"organisation_id": erasure.organisation_id,
                                               "client_id": erasure.client_id, "key": None})
            for subject, row in self.rows.items():
                if row["organisation_id"] == erasure.organisation_id and (
                        row["client_id"] == erasure.client_id
                        or subject in (erasure.client_id, *erasure.subjects)):
                    row["key"] = None


def scrubbed_if_of(body: dict[str, Any], erasure: Erasure) -> None:
    """Scrub an idempotent answer in place when it shows the erased client."""
    appointment, client = body.get("appointment") or {}, body.get("client") or {}
    if appointment.get("id") in erasure.subjects or client.get("id") == erasure.client_id:
        scrubbed(body)
