"""Where a rebuild reads history from: Kafka from the earliest offset, booking's
event feed, or (tests/doubles/projections.py) a list. Each source reads up to
a *mark*: `mark_end()` fixes how far (Kafka: the current end offsets),
`read()` yields the messages up to it, and a later `mark_end()` + `read()`
continues from there (the catch-up before the switch-over).
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Protocol

import requests
from kafka import KafkaConsumer, TopicPartition


class EventSource(Protocol):
    name: str

    def mark_end(self) -> int | None:
        """Fix the end of the next read; how many messages are left (None: unknown)."""

    def read(self) -> Iterator[bytes]:
        """The raw messages up to the mark."""

    def close(self) -> None: ...


class KafkaSource:
    """A fresh consumer with no group: manual assignment of every partition,
    from the beginning offsets to the end offsets taken at each mark."""
    name = "kafka"

    def __init__(self, bootstrap_servers: str, topics: tuple[str, ...],
                 idle_timeout: float = 30.0) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None,
                                      enable_auto_commit=False, max_poll_records=1000)
        self.partitions = [TopicPartition(t, p) for t in topics for p in self._partitions(t)]
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_beginning(*self.partitions)
        self.ends: dict[TopicPartition, int] = {}
        self.idle_timeout = idle_timeout

    def _partitions(self, topic: str) -> list[int]:
        deadline = time.monotonic() + 10
        while True:
            found = self.consumer.partitions_for_topic(topic)
            if found:
                return sorted(found)
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {topic} not found")
            self.consumer.topics()  # refresh metadata
            time.sleep(0.2)

    def mark_end(self) -> int:
        self.ends = self.consumer.end_offsets(self.partitions)
        return sum(max(0, end - self.consumer.position(tp)) for tp, end in self.ends.items())

    def _behind(self) -> list[TopicPartition]:
        return [tp for tp, end in self.ends.items() if self.consumer.position(tp) < end]

    def read(self) -> Iterator[bytes]:
        last_progress = time.monotonic()
        while self._behind():
            batches = self.consumer.poll(timeout_ms=500)
            if batches:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > self.idle_timeout:
                raise TimeoutError(f"no progress towards end offsets {self.ends}")
            for records in batches.values():
                for record in records:
                    yield record.value

    def close(self) -> None:
        self.consumer.close()


class BookingFeedSource:
    """Booking's event store: GET {booking}/v1/events?after=<position>&limit=<n>
    (a bearer token of role platform: every organisation's), oldest first, then
    ?cursor=<next_cursor>. Booking answers the list envelope (shared/paging.py)
    {"items": [{"topic", "key", "event": <CloudEvent>}], "next_cursor": str | null};
    a plain JSON list of CloudEvents is understood too (paged on their positions)."""
    name = "store"

    def __init__(self, base_url: str, token: str, page_size: int = 500,
                 session: requests.Session | None = None, timeout: float = 30.0) -> None:
        self.base_url, self.page_size, self.timeout = base_url.rstrip("/"), page_size, timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.after = 0

    def mark_end(self) -> None:
        return None  # the feed has no end offset: read until it has nothing after `after`

    def read(self) -> Iterator[bytes]:
        params: dict[str, Any] = {"after": self.after, "limit": self.page_size}
        while True:
            response = self.session.get(f"{self.base_url}/v1/events", params=params,
                                        timeout=self.timeout)
            response.raise_for_status()
            events, following = self._page(response.json())
            for event in events:
                yield json.dumps(event).encode()
                if isinstance(event, dict) and isinstance(event.get("position"), int):
                    self.after = max(self.after, event["position"])  # a later read goes on
            if following is None:
                return
            params = {**following, "limit": self.page_size}

    def _page(self, body: Any) -> tuple[list[Any], dict[str, Any] | None]:
        """The events of a page and the parameters of the next (None: the last page)."""
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            events = [e.get("event", e) if isinstance(e, dict) else e for e in body["items"]]
            cursor = body.get("next_cursor")
            return events, {"cursor": cursor} if isinstance(cursor, str) and cursor else None
        if isinstance(body, list):  # a bare list: page on the events' own positions
            positions = [e["position"] for e in body
                         if isinstance(e, dict) and isinstance(e.get("position"), int)]
            if not positions or max(positions) <= self.after:
                return body, None
            return body, {"after": max(positions)}
        raise ValueError("booking's event feed answered neither a list nor {items, next_cursor}")

    def close(self) -> None:
        self.session.close()
