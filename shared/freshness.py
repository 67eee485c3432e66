"""Read-your-writes as a prefix: `min_position=N` on a view waits until every
booking event at or below position N on the topics the view consumes has been
handled by its consumer (applied, or dead-lettered), else gives up (504).

Why the three steps below are enough:

1. The relay publishes booking's notification log in position order, a batch
   at a time, and sends a batch only once the broker acknowledged the one
   before. Inside a batch the partitions are written in no set order (one
   partition's messages may be readable while another's are still on their
   way), so the relay sends each batch's last message alone, after the broker
   acknowledged all the others, with a `fence` header holding its position
   (shared/relay.py). When a fence F can be read, every event at or below F
   is in the log.
2. The consumer runtime (shared/consumer.py) handles each partition in order
   and, after each batch, records here per partition the next offset to read
   and the highest fence it handled (table `consumer_progress`, in the
   service's own database, NOTIFY at commit). It writes only what it has
   handled, so the record is never ahead of the view.
3. A read at N waits (a) until its group has handled a fence >= N: every event
   <= N is in the log from then on; (b) then reads the end offset of every
   partition of the consumed topics (taken after (a), so the ends cover every
   event <= N, and later ones too); (c) until every partition's recorded
   offset has reached that end. A partition with nothing new is at its end at
   once; a busy one is waited for only up to the sampled end.

Step (a) never asks for the event at N itself: a position the view never
receives (an event of a topic it does not consume, or a gap that a rolled-back
save left in the positions) is covered by the next fence. A group must consume
the topics the fences are on; booking's go to appointments.events or
directory.events, and both views consume both.

A partition the runtime has not handled anything of in this process counts
from the group's committed offset (everything before it was handled, perhaps
by a release that recorded nothing). Positions written before a release with
fences are covered by the first fence after it, so such a read waits for the
next write (or answers 504).

End offsets come from shared/end_offsets.py (true ends on Tansu too; offsets of
a re-created topic are never compared with its former self's).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import psycopg
from kafka.structs import TopicPartition
from psycopg_pool import ConnectionPool

from shared import db
from shared.end_offsets import Ends

log = logging.getLogger(__name__)

FENCE = "fence"                 # Kafka header: this message's position, sent after all below it
CHANNEL = "consumer_progress"   # NOTIFY channel, payload: the group id
SCHEMA = """
CREATE TABLE IF NOT EXISTS consumer_progress (
    group_id    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,   -- every record before it is handled
    topic_id    text NOT NULL DEFAULT '',  -- of the topic those offsets are in
    fence       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, topic, partition)
);
"""


def fence_of(headers: Iterable[tuple[str, bytes]] | None) -> int | None:
    for name, value in headers or ():
        if name == FENCE:
            try:
                return int(value)
            except ValueError:
                return None
    return None


class Progress:
    """The consumer side: what a group has handled, per partition."""

    def __init__(self, url: str, group_id: str) -> None:
        db.run_schema(url, SCHEMA)  # one process at a time
        self.pool, self.group_id = db.pool(url), group_id  # the process's pool for `url`

    def record(self, offsets: Mapping[TopicPartition, int], fence: int | None,
               topic_ids: Mapping[str, str]) -> None:
        """Every record before `offsets[tp]` is handled; `fence` the highest one seen;
        `topic_ids`: the ids the topics had as far as the consumer knows."""
        # A re-created topic starts again at 0: the offset is set, not maximised, and
        # kept with the topic's id, so a reader never compares it with another topic's end.
        rows = [(self.group_id, tp.topic, tp.partition, offset, topic_ids.get(tp.topic, ""),
                 fence or 0) for tp, offset in offsets.items()]
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO consumer_progress (group_id, topic, partition, next_offset,"
                " topic_id, fence) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (group_id, topic, partition) DO UPDATE"
                " SET next_offset = EXCLUDED.next_offset, topic_id = EXCLUDED.topic_id,"
                " fence = GREATEST(consumer_progress.fence, EXCLUDED.fence)", rows)
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.group_id))


@dataclass(frozen=True)
class Handled:
    fence: int
    offsets: dict[TopicPartition, tuple[int, str]]  # next offset, topic id ('' unknown)

    def reached(self, ends: Ends.Sample) -> bool:
        """Every partition handled up to its end (offsets of a former topic count 0)."""
        def at(tp: TopicPartition) -> int:
            offset, topic_id = self.offsets.get(tp, (0, ""))
            return offset if topic_id in ("", ends.ids.get(tp.topic, topic_id)) else 0
        return all(at(tp) >= end for tp, end in ends.offsets.items())


class Freshness:
    """The reader side, one per API process: `wait(N)` for the three steps above.

    One listener thread holds one connection that LISTENs for the consumer's
    progress; requests wait on a condition variable, and look at the table at
    most every `poll` seconds besides (a lost listener, a notification missed).
    `also`, given to `wait`, is a further condition of the view, checked on
    the same wake-ups and at least every `also_poll` seconds.
    """

    def __init__(self, url: str, pool: ConnectionPool, bootstrap_servers: str, group_id: str,
                 topics: tuple[str, ...], timeout: float = 5.0, poll: float = 1.0,
                 also_poll: float = 0.05) -> None:
        self.url, self.pool, self.group_id = url, pool, group_id
        self.timeout, self.poll, self.also_poll = timeout, poll, also_poll
        self.ends = Ends(bootstrap_servers, topics)
        self._cond = threading.Condition()
        self._generation = 0  # notifications seen
        self._fences: list[tuple[int, float]] = []  # rising fences, when first seen
        self.remember = 10_000
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        db.run_schema(url, SCHEMA)  # one process at a time: API workers start together

    def wait(self, position: int, timeout: float | None = None,
             also: Callable[[], bool] | None = None) -> bool:
        """True once every event <= `position` is handled (and `also` holds);
        False after the timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        if position > 0:  # positions start at 1: 0 asks for nothing
            self._ensure_listening()
            anchored = self._until(lambda h: h.fence >= position, deadline)
            if anchored is None:
                return False
            ends = self.ends.after(self._first_seen(position), deadline)
            if ends is None:
                return False
            if not anchored.reached(ends) and self._until(lambda h: h.reached(ends),
                                                          deadline) is None:
                return False
        if also is not None:
            return self._until(lambda _: also(), deadline, self.also_poll) is not None
        return True

    def handled(self) -> Handled:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT topic, partition, next_offset, topic_id, fence FROM"
                                " consumer_progress WHERE group_id = %s",
                                (self.group_id,)).fetchall()
        handled = Handled(max((r[4] for r in rows), default=0),
                          {TopicPartition(r[0], r[1]): (r[2], r[3]) for r in rows})
        with self._cond:
            if not self._fences or handled.fence > self._fences[-1][0]:
                self._fences.append((handled.fence, time.monotonic()))
                del self._fences[:-self.remember]
        return handled

    def _first_seen(self, fence: int) -> float:
        """When this process first saw a fence >= `fence`: any end offsets read after
        that moment cover it, so reads of a position seen before share one sample.
        (Forgotten ones answer a later moment, which is as true.)"""
        with self._cond:
            return next(moment for seen, moment in self._fences if seen >= fence)

    def _until(self, condition: Callable[[Handled], bool], deadline: float,
               poll: float | None = None) -> Handled | None:
        """What was handled when `condition` was seen to hold; None at the deadline."""
        while True:
            with self._cond:
                seen = self._generation
            handled = self.handled()
            if condition(handled):
                return handled
            now = time.monotonic()
            if now >= deadline:
                return None
            with self._cond:
                if self._generation == seen:  # nothing new since we looked
                    self._cond.wait(min(deadline - now, poll or self.poll))

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(3)
        self.ends.close()

    def _ensure_listening(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._listen, daemon=True,
                                                name="read-your-writes-listen")
                self._thread.start()
        self._listening.wait(1.0)  # else the poll covers the gap

    def _listen(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    failures = 0
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            if note.payload == self.group_id:
                                with self._cond:
                                    self._generation += 1
                                    self._cond.notify_all()
            except Exception as e:  # noqa: BLE001 - reconnect; waiting requests poll meanwhile
                self._listening.clear()
                failures += 1
                (log.warning if failures == 1 else log.debug)(
                    "read-your-writes listener lost its connection: %s", e)
                self._stop.wait(min(30.0, float(failures)))
