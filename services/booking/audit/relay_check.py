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

# The chain entries from a position on, each with the hash before it in its chain.
ENTRIES = ("SELECT o.notification_id, o.organisation_id, o.sequence, o.hash, p.hash "
           "FROM booking_event_organisation o LEFT JOIN booking_event_organisation p "
           "ON p.organisation_id = o.organisation_id AND p.sequence = o.sequence - 1 "
           "WHERE o.notification_id >= %s ORDER BY o.notification_id LIMIT %s")
AHEAD = 500  # entries read at once: the relay's batch, one query instead of 500


class ChainCheck:
    """A relay `Check` over the application's own event store (its pool)."""

    def __init__(self, application: Any) -> None:
        self.datastore = application.recorder.datastore
        self.entries: dict[int, tuple[str, int | None, bytes | None, bytes | None]] = {}

    def _entry(self, position: int) -> tuple[str, int | None, bytes | None, bytes | None] | None:
        if position not in self.entries:  # not read yet (or not committed when read)
            with self.datastore.get_connection() as conn, \
                    conn.cursor(row_factory=tuple_row) as cur:
                rows = cur.execute(ENTRIES, (position, AHEAD)).fetchall()
            self.entries = {r[0]: (r[1], r[2], r[3] and bytes(r[3]), r[4] and bytes(r[4]))
                            for r in rows}
        return self.entries.get(position)

    def __call__(self, n: Notification) -> str | None:
        entry = self._entry(n.id)
        if entry is None:
            return "hash does not verify: the event is in no organisation's hash chain " \
                   "(it was not stored by booking's recorder)"
        organisation_id, sequence, recorded, previous = entry
        if recorded is None or sequence is None:
            return f"hash does not verify: the event has no chain hash in {organisation_id}'s chain"
        if sequence == 1:
            previous = chain.GENESIS
        elif previous is None:
            return (f"hash does not verify: the chain entry before it ({organisation_id}, "
                    f"sequence {sequence - 1}) is gone")
        if chain.event_hash(previous, organisation_id, str(n.originator_id),
                            n.originator_version, n.topic, n.state) != recorded:
            return (f"hash does not verify: the stored bytes are not those recorded in "
                    f"{organisation_id}'s chain at sequence {sequence} (altered or moved)")
        return None
