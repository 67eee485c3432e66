"""Booking's aggregates cached in each process: fast-forwarded, never serving erased data.

Rebuilding an aggregate from all its events on every command made a command on an
appointment of 1,000 events cost six times one of 10. The library's `Repository`
keeps up to `BOOKING_AGGREGATE_CACHE_SIZE` aggregates per process (least recently
used go first) and, on every load, fast-forwards the cached one with the events stored
after its version, by any process: a command works on the latest version, and a save
from a stale one is still refused by the event table's (originator_id, version) key.
Each load gets its own copy (the library's deepcopy), so a command that fails half-way
leaves the cached state as it was.

A cached aggregate holds its client's data decrypted (adapters/sealing.py), and an
erasure destroys keys without an event on every subject it seals. So an aggregate
that can hold personal data is checked against its key on every load: once the key
is gone, the cached copy is dropped and the aggregate rebuilt from its events, which
then read as erased, in whichever process the erasure happened.
"""
from __future__ import annotations

import contextlib
import uuid
from typing import Any

from eventsourcing.application import Repository, project_aggregate
from eventsourcing.persistence import EventStore

from services.booking.application.ports import Keys
from services.booking.domain.appointment import Appointment
from services.booking.domain.directory import Client
from services.booking.domain.waitlist import WaitlistEntry
from shared import config

# The aggregates whose events carry a client's personal data (domain/personal_data.py).
PERSONAL = (Appointment, Client, WaitlistEntry)


def cache_size() -> int:
    """BOOKING_AGGREGATE_CACHE_SIZE: aggregates per process; 0 turns the cache off."""
    size = int(config.require("BOOKING_AGGREGATE_CACHE_SIZE"))
    if size < 0:
        raise ValueError("BOOKING_AGGREGATE_CACHE_SIZE must be 0 (off) or more")
    return size


class SealedRepository(Repository[uuid.UUID]):
    """The library's repository and LRU cache, with the erasure check above."""

    keys: Keys | None = None   # set by BookingBase, like the mapper's

    def __init__(self, events: EventStore[uuid.UUID], size: int) -> None:
        # size None: no cache (the library reads 0 as "unbounded")
        super().__init__(events, cache_maxsize=size or None, fastforward=True)

    def get(self, aggregate_id: uuid.UUID, *, version: int | None = None,
            **kwargs: Any) -> Any:
        aggregate = super().get(aggregate_id, version=version, **kwargs)
        if self.cache is None or version is not None or not isinstance(aggregate, PERSONAL):
            return aggregate
        if self.keys is None:
            raise RuntimeError("SealedRepository has no key store (BookingBase sets it)")
        if not self.keys.lookup(str(aggregate_id))[1]:
            return aggregate
        # Erased, maybe after this copy was cached: rebuilt, the events read as erased.
        with contextlib.suppress(KeyError):
            self.cache.get(aggregate_id, evict=True)
        return self._reconstruct_aggregate(aggregate_id, None,
                                           project_aggregate)  # type: ignore[arg-type]
