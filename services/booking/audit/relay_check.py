""""Hash does not verify": one more check of booking's relay (shared/relay_halt.py).

Before an event is published, its bytes (or the corrected bytes an operator's decision
gave) are hashed with the previous hash of its organisation's chain and held against
the hash recorded for it when it was stored. An event altered, moved or inserted by
hand stops the relay at its position, like one that cannot be decoded: consumers never
receive bytes the record does not vouch for, and only a recorded decision resumes it.
"""
from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Notification
from psycopg.rows import tuple_row

from services.booking.audit import chain

ENTRY = ("SELECT o.organisation_id, o.sequence, o.hash, (SELECT p.hash FROM "
         "booking_event_organisation p WHERE p.organisation_id = o.organisation_id "
         "AND p.sequence = o.sequence - 1) FROM booking_event_organisation o "
         "WHERE o.notification_id = %s")


class ChainCheck:
    """A relay `Check` over the application's own event store (its pool)."""

    def __init__(self, application: Any) -> None:
        self.datastore = application.recorder.datastore

    def __call__(self, n: Notification) -> str | None:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            row = cur.execute(ENTRY, (n.id,)).fetchone()
        if row is None:
            return "hash does not verify: the event is in no organisation's hash chain " \
                   "(it was not stored by booking's recorder)"
        organisation_id, sequence, recorded, previous = row
        if recorded is None or sequence is None:
            return f"hash does not verify: the event has no chain hash in {organisation_id}'s chain"
        if sequence == 1:
            previous = chain.GENESIS
        elif previous is None:
            return (f"hash does not verify: the chain entry before it ({organisation_id}, "
                    f"sequence {sequence - 1}) is gone")
        if chain.event_hash(bytes(previous), organisation_id, str(n.originator_id),
                            n.originator_version, n.topic, n.state) != bytes(recorded):
            return (f"hash does not verify: the stored bytes are not those recorded in "
                    f"{organisation_id}'s chain at sequence {sequence} (altered or moved)")
        return None
