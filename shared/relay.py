"""The relay: follows an application's notification log (the outbox) and
publishes each stored event to Kafka as a CloudEvent.

- The loop is the shared outbox drainer (shared/outbox.py): the position is
  recorded only after the broker acknowledged every message of a batch, so a
  crash republishes (never skips). Consumers deduplicate by event id.
- On the development broker, which loses its topics when it restarts, the
  ids of the topics published to are recorded with the position; topics gone
  or re-created mean everything is republished from the start, so consumers
  can rebuild what they lack (`devbroker.PublishedTopics`).
- A batch's last message is sent alone, once the broker acknowledged all the
  others, with a `fence` header holding its position: whoever can read it
  knows every event at or below it is in the log (read-your-writes,
  shared/freshness.py). One more round trip per batch of more than one.
- An event that must not be published (it cannot be decoded, or one of the
  `checks` says no) stops the line at its position: what came before is
  published, nothing after it is, until an operator decides (shared/relay_halt.py).
  A transient failure (broker or database away) is retried as before.
"""
from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from shared import config, db, devbroker, kafka, relay_halt
from shared.envelope import CloudEvent
from shared.freshness import FENCE
from shared.outbox import Drainer, Send
from shared.relay_halt import Check, Decision

log = logging.getLogger("relay")
Message = tuple[str, str, CloudEvent]
ToMessages = Callable[[Any, Sequence[Any]], list[Message]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS relay_position (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    topic_ids jsonb NOT NULL DEFAULT '{}'::jsonb,  -- topic -> id it had when we published
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


class Relay:
    def __init__(self, application: Any, to_messages: ToMessages, database_url: str, name: str,
                 bootstrap_servers: str, batch_size: int = 500, idle_sleep: float = 0.1,
                 reset_check_every: float = 3.0, checks: Sequence[Check] = ()) -> None:
        self.application = application
        self.checks = tuple(checks)
        self.to_messages = to_messages
        self.pool = db.pool(database_url, max_size=2)
        self.name = name
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.stopping = threading.Event()
        self.published = devbroker.published_topics(bootstrap_servers)
        self.drainer = Drainer(self, bootstrap_servers, name=name, idle_wait=idle_sleep,
                               watch=self._recover_if_broker_lost_topics
                               if devbroker.enabled() else None,
                               watch_every=reset_check_every)
        self._topics: set[str] = set(kafka.TOPICS)
        db.run_schema(database_url, SCHEMA)
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO relay_position (name) VALUES (%s) ON CONFLICT DO NOTHING",
                         (name,))
        self.line = relay_halt.Line(database_url, name, self.pool)
        self.halted = self.line.halt()
        if self.halted:  # still halted from before a restart: say so once more
            relay_halt.log_halt(name, self.halted)
        self.decisions: dict[int, Decision] = self.line.decisions()
        relay_halt.install(application, self._corrections)

    def _corrections(self) -> dict[tuple[str, int], bytes]:
        return {(d.aggregate_id, d.aggregate_version): d.corrected
                for d in self.decisions.values() if d.corrected is not None}

    # -- position -----------------------------------------------------------
    def position(self) -> tuple[int, dict[str, str]]:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT position, topic_ids FROM relay_position WHERE name=%s",
                               (self.name,)).fetchone()
        assert row, "created in __init__"
        return int(row[0]), dict(row[1])

    def _record(self, position: int, topic_ids: dict[str, str]) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE relay_position SET position=%s, topic_ids=%s, updated_at=now() "
                "WHERE name=%s", (position, json.dumps(topic_ids), self.name))

    # -- the development broker ---------------------------------------------
    def _recover_if_broker_lost_topics(self) -> bool:
        if not self.published.lost(self.position()[1]):
            return False
        log.warning("broker lost or re-created topics; republishing from the start",
                    extra={"fields": {"relay": self.name}})
        kafka.ensure_topics(self.bootstrap_servers, self._topics)
        self._record(0, {})
        return True

    # -- the outbox ---------------------------------------------------------
    def drain(self, send: Send) -> int:
        """Publish the events after our position; record it once acknowledged."""
        if self._still_halted():
            return 0
        position, topic_ids = self.position()
        notifications = self.application.recorder.select_notifications(
            start=position + 1, limit=self.batch_size)
        messages, last, stop = self._publishable(position, notifications)
        if not messages:
            if last > position:  # only skipped events: nothing to send
                self._record(last, topic_ids)
            if stop:
                self._stop_at(*stop)
            return 0
        topics = {topic for topic, _, _ in messages}
        new_topics = topics - self._topics
        if new_topics:
            kafka.ensure_topics(self.bootstrap_servers, new_topics)
            self._topics |= new_topics
        sent_to = self.published.before_sending(topics, topic_ids)
        *before, (topic, key, fence) = messages
        if before:
            send([(t, *event.to_kafka(k)) for t, k, event in before])
        key_bytes, value, headers = fence.to_kafka(key)
        send([(topic, key_bytes, value, [*headers, (FENCE, str(fence.position).encode())])])
        try:
            self.published.confirm(sent_to)
        except devbroker.BrokerReplaced:
            self.drainer.producer.reset()  # an idempotent producer does not survive that
            raise
        self._record(last, {**topic_ids, **sent_to})
        if stop:
            self._stop_at(*stop)
        return len(messages)

    # -- stopping the line --------------------------------------------------
    def _still_halted(self) -> bool:
        if self.halted is None:
            return False
        was, self.halted = self.halted, self.line.halt()
        if self.halted is None:  # an operator decided (relay_decisions)
            self.decisions = self.line.decisions()
            log.info("relay resumes", extra={"fields": {"relay": self.name,
                                                        "position": was.position}})
        return self.halted is not None

    def _publishable(self, position: int, notifications: Sequence[Any]
                     ) -> tuple[list[Message], int, tuple[Any, str] | None]:
        """The messages of the events up to the first that must not be published, the
        last position they cover, and that event with the reason (None if all may go)."""
        messages: list[Message] = []
        last = position
        for n in notifications:
            decision = self.decisions.get(n.id)
            if decision and decision.action == relay_halt.SKIP:
                last = n.id
                continue
            if decision and decision.corrected is not None:
                n = replace(n, state=decision.corrected)
            reason, converted = relay_halt.first_reason(
                n, self.checks, lambda one: self.to_messages(self.application, [one]))
            if reason:
                return messages, last, (n, reason)
            messages.extend(converted)
            last = n.id
        return messages, last, None

    def _stop_at(self, n: Any, reason: str) -> None:
        self.line.stop_at(n, reason)
        self.halted = self.line.halt()

    def step(self) -> int:
        """Publish one batch; return how many events went out."""
        return self.drainer.step()

    def run(self) -> None:
        kafka.ensure_topics(self.bootstrap_servers, self._topics)
        self.drainer.run(self.stopping)
        self.close()

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.drainer.close()
        self.published.close()


def run(application: Any, to_messages: ToMessages, database_url: str, name: str,
        checks: Sequence[Check] = (), bootstrap_servers: str | None = None) -> None:
    """Entry point for a relay process: runs until SIGTERM or SIGINT."""
    relay = Relay(application, to_messages, database_url, name,
                  bootstrap_servers or config.require("KAFKA_BOOTSTRAP_SERVERS"), checks=checks)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: relay.stop())
    log.info("relay started", extra={"fields": {"relay": name}})
    relay.run()
    log.info("relay stopped", extra={"fields": {"relay": name}})
