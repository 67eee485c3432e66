"""The one Kafka consumer runtime: poll, handle each record, dead-letter what
cannot be processed, commit what was handled, stop cleanly.

A service gives it a handler that applies one record in one database
transaction together with the record's identity (its CloudEvent id), so a
record read twice changes nothing twice: deduplication is by event id, never
by offset, and a broker that came back empty (offsets back at 0, read again
from the earliest) only causes harmless duplicates.

- Offsets are committed only after their records were applied or
  dead-lettered. Records of one partition are handled in order (one
  appointment's events share a partition, keyed by appointment id).
- A record whose handler raises a *transient* error (the database or the
  broker away, a dead letter not acknowledged) is not the record's fault:
  every partition is sought back to its first record not handled, and the
  batch is read again after `retry_wait`.
- Any other error is the record's: it goes, unchanged, to its topic's `.dlq`
  twin with the reason (shared/deadletters.py: an ERROR line, and a row that
  its API's /readyz names until acknowledged) and the consumer goes on.
- Topics are created before subscribing (a real Kafka's automatic topic
  creation is off). On the development broker, a topic re-created under the
  consumer is read again from its start, and a member left with the broker's
  sticky empty assignment is replaced (`devbroker.TopicWatch`).
- With `progress`, what was handled (next offset per partition, the highest
  relay fence) is recorded after each batch for read-your-writes
  (shared/freshness.py).

Instead of a record handler a service may hand it `Batches`: a poll's records
are then applied in ONE transaction of the service's database, each in its own
SAVEPOINT (BEGIN/COMMIT and the bookkeeping around them are paid once per poll,
not once per record). A record that fails is rolled back to its savepoint alone
and dead-lettered after the commit; the others commit. A transient error rolls
the whole transaction back and every partition is read again from the poll's
start (nothing of it was kept). Offsets, progress and dead letters follow the
commit, never precede it: a process killed before it re-reads the poll, and the
records it applies again are duplicates its handler recognises by event id.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition
from psycopg_pool import ConnectionPool

from shared import devbroker, kafka
from shared.deadletters import DeadLetterFailed, DeadLetters
from shared.freshness import Progress, fence_of

log = logging.getLogger(__name__)
Handler = Callable[[ConsumerRecord], object]
TRANSIENT: tuple[type[Exception], ...] = (psycopg.OperationalError, KafkaError, DeadLetterFailed)
Polled = dict[TopicPartition, list[ConsumerRecord]]


@dataclass(frozen=True)
class Batches:
    """How a service applies a whole poll in one transaction of `pool`:
    `apply(conn, record)` inside the record's savepoint; `begin(conn)` once at
    the start of the transaction (a lock every record needs, say); `committed`
    gets what `apply` returned for the records kept, once the commit is done."""
    pool: ConnectionPool
    apply: Callable[[psycopg.Connection, ConsumerRecord], object]
    begin: Callable[[psycopg.Connection], None] | None = None
    committed: Callable[[Sequence[object]], None] | None = None


class ConsumerRuntime:
    """Runs `handle` (a record handler, or `Batches`) over `topics` as a member of `group_id`.

    `expected`: errors that are known message faults (dead-lettered with their
    message as the reason, no stack trace in the log). `also_ensure`: other
    topics this process writes to, re-created with the consumed ones.
    `before_poll`: called before every poll (periodic chores of the service).
    `database_url`: where each dead letter is also recorded (its API's /readyz names them).
    """

    def __init__(self, bootstrap_servers: str, group_id: str, topics: Iterable[str],
                 handle: Handler | Batches, *, expected: tuple[type[Exception], ...] = (),
                 also_ensure: Iterable[str] = (), poll_interval: float = 0.5,
                 retry_wait: float = 1.0, topic_check_interval: float = 3.0,
                 before_poll: Callable[[], None] | None = None,
                 database_url: str | None = None, progress: Progress | None = None) -> None:
        self.topics = tuple(topics)
        self.progress = progress
        self._progress_known: set[TopicPartition] = set()  # recorded at least once
        self.handle, self.expected = handle, expected
        self.poll_ms = int(poll_interval * 1000)
        self.retry_wait = retry_wait
        self.before_poll = before_poll
        self.bootstrap_servers, self.group_id = bootstrap_servers, group_id
        owned = (*self.topics, *(kafka.dlq(t) for t in self.topics), *also_ensure)
        kafka.ensure_topics(bootstrap_servers, owned)
        self.dead = DeadLetters(bootstrap_servers, group_id, database_url=database_url)
        self.consumer = kafka.consumer(bootstrap_servers, group_id)
        self.watch = (devbroker.TopicWatch(self.consumer, bootstrap_servers, owned,
                                           topic_check_interval)
                      if devbroker.enabled() else None)
        self.consumer.subscribe(list(self.topics), listener=self.watch)

    def run(self, stop: threading.Event) -> None:
        """Poll and handle until `stop` is set, then commit and close."""
        try:
            while not stop.is_set():
                try:
                    if self.before_poll:
                        self.before_poll()
                    self._watch_topics()
                    if not self.step(stop):
                        stop.wait(self.retry_wait)
                except Exception:  # noqa: BLE001 - never lose the consumer
                    log.exception("could not consume; trying again")
                    stop.wait(self.retry_wait)
        finally:
            self.close()

    def _watch_topics(self) -> None:
        if self.watch is None:
            return
        self.watch.check()
        if self.watch.needs_new_member():
            log.warning("no partitions of a re-created topic assigned; joining as a new member")
            self.consumer.close(autocommit=False)
            self.consumer = kafka.consumer(self.bootstrap_servers, self.group_id, *self.topics,
                                           listener=self.watch)
            self.watch.renewed(self.consumer)

    def step(self, stop: threading.Event) -> bool:
        """Poll once, handle the batch in order, commit what was handled.
        False: something transient failed; what was not handled is read again."""
        try:
            batch = self.consumer.poll(timeout_ms=self.poll_ms)
        except KafkaError as e:
            log.warning("poll failed: %s", e)
            return False
        if isinstance(self.handle, Batches) and batch:
            return self._step_in_transaction(self.handle, batch, stop)
        done: dict[TopicPartition, int] = {}
        try:
            for tp, records in batch.items():
                for record in records:
                    if stop.is_set():
                        self._rewind(batch, done)
                        return True
                    self._handle_or_dead_letter(record)
                    done[tp] = record.offset + 1
        except Exception as e:
            self._rewind(batch, done)  # not handled: read it again
            if not isinstance(e, TRANSIENT):
                raise
            log.warning("not the message's fault, reading it again: %r", e)
            return False
        finally:
            self._commit(done)
            self._record_progress(done, _fence(batch, done))
        return True

    def _handle_or_dead_letter(self, record: ConsumerRecord) -> None:
        assert not isinstance(self.handle, Batches)
        try:
            self.handle(record)
            return
        except TRANSIENT:
            raise
        except Exception as e:  # noqa: BLE001 - any other failure is the message's
            reason = self._reason(e)
        self._dead_letter(record, reason)

    def _reason(self, e: Exception) -> str:
        if isinstance(e, self.expected):
            return str(e)
        log.error("could not process a message; dead-lettering it", exc_info=e)
        return f"{type(e).__name__}: {e}"

    def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        self.dead.publish(record.key, record.value, reason, record.topic, record.partition,
                          record.offset)

    def _step_in_transaction(self, batches: Batches, batch: Polled, stop: threading.Event
                             ) -> bool:
        """The poll in one transaction, a savepoint per record (see the module's doc)."""
        done: dict[TopicPartition, int] = {}
        kept: list[object] = []
        poison: list[tuple[ConsumerRecord, str]] = []
        try:
            with batches.pool.connection() as conn, conn.transaction():
                if batches.begin:
                    batches.begin(conn)
                for tp, record in ((tp, r) for tp, rs in batch.items() for r in rs):
                    if stop.is_set():
                        break
                    try:
                        with conn.transaction():
                            kept.append(batches.apply(conn, record))
                    except TRANSIENT:
                        raise
                    except Exception as e:  # noqa: BLE001 - the record's fault: its savepoint only
                        poison.append((record, self._reason(e)))
                    done[tp] = record.offset + 1
        except Exception as e:
            self._rewind(batch, {})  # nothing of this poll was kept: all of it again
            if not isinstance(e, TRANSIENT):
                raise
            log.warning("not the message's fault, reading the batch again: %r", e)
            return False
        if batches.committed:
            batches.committed(kept)
        failed = self._dead_letters(poison, done)
        if stop.is_set() or failed:
            self._rewind(batch, done)
        self._commit(done)
        self._record_progress(done, _fence(batch, done))
        return not failed

    def _dead_letters(self, poison: list[tuple[ConsumerRecord, str]],
                      done: dict[TopicPartition, int]) -> bool:
        """Dead-letter the poll's failed records, after its commit; on a transient
        failure, `done` stops at the first one of each partition not published."""
        for n, (record, reason) in enumerate(poison):
            try:
                self._dead_letter(record, reason)
            except TRANSIENT as e:
                log.warning("could not dead-letter a message; reading it again: %r", e)
                for left, _ in poison[n:]:
                    tp = TopicPartition(left.topic, left.partition)
                    done[tp] = min(done.get(tp, left.offset), left.offset)
                return True
        return False

    def _rewind(self, batch: dict[TopicPartition, Any], done: dict[TopicPartition, int]) -> None:
        """Seek each partition back to its first record not handled."""
        for tp, records in batch.items():
            self.consumer.seek(tp, done.get(tp, records[0].offset))

    def _commit(self, done: dict[TopicPartition, int]) -> None:
        """Commit exactly what was handled: never positions left over from a
        topic that has since been re-created."""
        if not done:
            return
        try:
            self.consumer.commit({tp: OffsetAndMetadata(offset, "", -1)
                                  for tp, offset in done.items()})
        except KafkaError as e:  # rebalance or broker gone: the events are deduplicated
            log.warning("offset commit failed; events will be seen again: %s", e)

    def _record_progress(self, done: dict[TopicPartition, int], fence: int | None) -> None:
        if self.progress is None:
            return
        handled = dict(done)
        # A partition first met in this process: what the group committed before was
        # handled (by an earlier process, perhaps of a release that recorded nothing).
        for tp in self.consumer.assignment() - self._progress_known - handled.keys():
            try:
                committed = self.consumer.committed(tp)
            except KafkaError:
                continue
            self._progress_known.add(tp)
            if committed:
                handled[tp] = committed
        if not handled:
            return
        try:
            self.progress.record(handled, fence, self.watch.known if self.watch else {})
            self._progress_known |= handled.keys()
        except psycopg.Error as e:  # read-your-writes waits longer; nothing is lost
            log.warning("could not record the consumer's progress: %s", e)

    def close(self) -> None:
        self.consumer.close(autocommit=False)
        self.dead.close()
        if self.watch:
            self.watch.close()


def _fence(batch: Polled, done: dict[TopicPartition, int]) -> int | None:
    """The highest relay fence among the records handled."""
    fences = [fence_of(r.headers) or 0 for tp, records in batch.items()
              for r in records if r.offset < done.get(tp, 0)]
    return max(fences, default=0) or None
