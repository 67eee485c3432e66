"""Read-your-writes: wait until the event at a booking position is applied.

One listener thread per process holds one connection that LISTENs on the
channel the apply transaction NOTIFYs at commit; requests wait on a
condition variable, never on a connection of their own. As a safety net
(a lost listener connection, a notification before LISTEN) a waiting
request also looks at `applied_events` through the shared pool once per
`poll` seconds.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque

import psycopg
from psycopg_pool import ConnectionPool

from services.projections.adapters import store
from services.projections.adapters.schema import LIVE, NOTIFY_CHANNEL

log = logging.getLogger(__name__)


class Freshness:
    def __init__(self, url: str, pool: ConnectionPool, timeout: float = 5.0,
                 poll: float = 1.0, remember: int = 100_000) -> None:
        self.url, self.pool, self.timeout, self.poll = url, pool, timeout, poll
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._remember = remember
        self._cond = threading.Condition()
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def wait(self, position: int, timeout: float | None = None) -> bool:
        """True once `position` is applied; False after the timeout (still stale)."""
        if position <= 0:   # positions start at 1: nothing to wait for
            return True
        self._ensure_listening()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        next_check = 0.0
        while True:
            now = time.monotonic()
            with self._cond:
                if position in self._seen:
                    return True
            if now >= next_check:
                if self._applied(position):
                    return True
                next_check = now + self.poll
            if now >= deadline:
                return False
            with self._cond:
                if position not in self._seen:
                    self._cond.wait(min(deadline, next_check) - now)

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(3)

    def _applied(self, position: int) -> bool:
        with self.pool.connection() as conn:
            return store.is_applied(conn, LIVE, position)

    def _ensure_listening(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._listen, name="projections-listen",
                                                daemon=True)
                self._thread.start()
        self._listening.wait(1.0)  # else the poll below covers the gap

    def _listen(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._listening.set()
                    failures = 0
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._remember_position(note.payload)
            except Exception as e:  # noqa: BLE001 - reconnect; waiting requests poll meanwhile
                self._listening.clear()
                failures += 1
                (log.warning if failures == 1 else log.debug)(
                    "read-your-writes listener lost its connection: %s", e)
                self._stop.wait(min(30.0, float(failures)))

    def _remember_position(self, payload: str) -> None:
        try:
            position = int(payload)
        except ValueError:
            return
        with self._cond:
            if position not in self._seen:
                self._seen.add(position)
                self._order.append(position)
                if len(self._order) > self._remember:
                    self._seen.discard(self._order.popleft())
            self._cond.notify_all()
