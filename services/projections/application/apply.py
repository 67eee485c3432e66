"""Apply one event to every view, in ONE transaction with its identity (the
consumer: a poll's events in one transaction, a savepoint each, shared/consumer.py).

Order of work inside the transaction:
1. (live tables only) take the consumer's lock shared (`lock_live`, once per
   transaction), so a rebuild can switch tables over between two transactions,
   never in the middle of one;
2. read what the views know of an appointment event's organisation (the
   event refers to it; its settings come with the organisation's own events)
   and the state its previous version's history entry kept (what the event's
   changes are described against), and turn the event into rows (an
   Unprocessable event stops here, nothing written); an appointment or
   waitlist entry of a client erased before its event arrived shows them erased;
3. record the event id (a duplicate stops here: nothing else happens);
4. compare with the subject's last applied aggregateversion: an older or
   equal one does not touch the snapshot views (its status-history entry is
   still filled in if missing, since history is keyed by version);
5. write the rows (an organisation whose time zone or parts of day changed
   gets its appointments' preferred windows placed again), raise the subject's
   version. (Readers waiting for a position are woken by the consumer runtime's
   progress record after the commit: shared/freshness.py.)
"""
from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from services.projections.adapters import store
from services.projections.adapters.schema import LIVE_LOCK, TableSet
from services.projections.domain.apply import apply as changes_of
from services.projections.domain.model import Changes, Unprocessable, without_client
from shared.envelope import CloudEvent, InvalidEnvelope

APPLIED, DUPLICATE, STALE = "applied", "duplicate", "stale"


def decode(payload: bytes | str | None, headers: list[tuple[str, bytes]] | None = None
           ) -> CloudEvent:
    """The CloudEvent in a message, or Unprocessable saying what is wrong."""
    if payload is None:
        raise Unprocessable("empty message (tombstone)")
    try:
        raw = payload.encode() if isinstance(payload, str) else payload
        event = CloudEvent.from_kafka(raw, headers)
    except InvalidEnvelope as e:
        raise Unprocessable(f"invalid envelope: {e}") from e
    for name in ("id", "source", "type", "subject", "orgid"):
        if not isinstance(getattr(event, name), str) or not getattr(event, name):
            raise Unprocessable(f"invalid envelope: {name} must be a non-empty string")
    return event


def lock_live(conn: psycopg.Connection) -> None:
    """Hold the consumer's lock shared until the transaction ends (rebuild.py's switch-over)."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (LIVE_LOCK,))


def apply_in(conn: psycopg.Connection, ts: TableSet, event: CloudEvent) -> str:
    """Apply `event` inside the caller's open transaction on `conn` (on the live
    tables, one that holds `lock_live`)."""
    known = before = None
    if event.type.startswith("appointment."):
        previous = event.aggregateversion if isinstance(event.aggregateversion, int) else None
        known, before = store.context(conn, ts, event.orgid, event.subject, previous)
    changes = changes_of(event, known, before)
    row = changes.appointment or changes.waitlist
    client = row.client_id if row else None
    if client and store.is_erased_client(conn, ts, client):
        changes = without_client(changes)
    new, last = store.record_event(conn, ts, event, APPLIED, changes.subject)
    if not new:
        return DUPLICATE
    if last is not None and last >= changes.version:
        if changes.history:
            store.write(conn, ts, Changes(changes.subject, changes.version,
                                          changes.organisation_id, history=changes.history))
        store.set_outcome(conn, ts, event.id, STALE)
        outcome = STALE
    else:
        store.write(conn, ts, changes)
        store.set_version(conn, ts, changes.subject, changes.version)
        outcome = APPLIED
    return outcome


def apply_event(pool: ConnectionPool, ts: TableSet, event: CloudEvent) -> str:
    """Apply one event in its own transaction: applied, duplicate or stale.

    Raises Unprocessable (the event is bad), having written nothing.
    """
    with pool.connection() as conn, conn.transaction():
        if ts.is_live:
            lock_live(conn)
        return apply_in(conn, ts, event)
