"""A rebuild's event source in memory."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from shared.envelope import CloudEvent


class ListSource:
    """Events from memory (tests); `extend` adds events that 'arrive later'."""
    name = "list"

    def __init__(self, events: list[Any] | None = None) -> None:
        self._events: list[bytes] = []
        self._next = self._end = 0
        self.extend(events or [])

    def extend(self, events: list[Any]) -> None:
        for e in events:
            self._events.append(e.to_json() if isinstance(e, CloudEvent) else
                                e if isinstance(e, bytes) else json.dumps(e).encode())

    def mark_end(self) -> int:
        self._end = len(self._events)
        return self._end - self._next

    def read(self) -> Iterator[bytes]:
        while self._next < self._end:
            self._next += 1
            yield self._events[self._next - 1]

    def close(self) -> None:
        pass
