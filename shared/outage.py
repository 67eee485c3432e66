"""What a process does while PostgreSQL does not answer: fail at once, notice
when it is back, reconnect.

Without this a request met a dead database by waiting 30 s for a pooled
connection, the `eventsourcing` library repeated that wait up to ten times
(its `@retry`), and after a long outage the pools' reconnect back-off (doubling
up to minutes) kept the services failing long after PostgreSQL was back.

- One `Gate` per database and process knows whether the database answers. A
  lost connection (or none in time) makes it probe with a fresh connection; if
  that fails the gate closes and every pool of that database raises
  `DatabaseUnreachable` at once. While it is closed, one caller per
  `PROBE_INTERVAL` probes again; the first probe that connects opens it, and
  every pool of the database drops the connections it kept from before.
- `Pool` is psycopg_pool's pool behind the gate. It hands out no connection the
  server has ended (`may_be_lost`: a poll of its socket, a round trip only when
  that finds something), and gives up re-trying a lost one after `RECONNECT_TIMEOUT`
  (the next request then connects afresh, with no back-off to sit out).
- `EventStoreFactory` puts the library's PostgreSQL datastore behind the same
  gate. `DatabaseUnreachable` is a psycopg error, not one of the library's
  own, so its `@retry` does not repeat it; consumers that treat
  `psycopg.OperationalError` as transient keep doing so.
"""
from __future__ import annotations

import logging
import select
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing import persistence
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from shared import config

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 1         # seconds a probe waits to connect (libpq counts whole seconds)
PROBE_INTERVAL = 0.5      # seconds between probes while the database is down
CONNECT_TIMEOUT = 2       # seconds a pool waits for one new connection
RECONNECT_TIMEOUT = 5.0   # seconds a pool re-tries a lost connection before it lets go
RETRY_AFTER = "2"         # what clients are told while the database is down (seconds)
BUSY_RETRY_AFTER = "1"    # ... and after a lock or statement timeout (db.LOCK_TIMEOUT_SECONDS)

# Everything that means "the database cannot serve this now": psycopg's
# OperationalError family (lost connection, AdminShutdown, PoolTimeout, ...)
# and what the library translates those into.
UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError, persistence.OperationalError, persistence.InterfaceError)


class DatabaseUnreachable(psycopg.OperationalError):
    """Raised at once, without touching a pool, while the database is known to be down."""


def pool_timeout() -> float:
    return float(config.require("DATABASE_POOL_TIMEOUT"))


class Gate:
    """Whether one database answers, as this process last found out."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = make_conninfo(conninfo, connect_timeout=PROBE_TIMEOUT)
        self.down_since: float | None = None
        self._next_probe = 0.0
        self._probing = threading.Lock()
        self._pools: weakref.WeakSet[ConnectionPool[Any]] = weakref.WeakSet()

    def watch(self, pool: ConnectionPool[Any]) -> None:
        """Drain `pool` whenever the database comes back."""
        self._pools.add(pool)

    def check(self) -> None:
        """Return while the database answers; raise `DatabaseUnreachable` while it does not."""
        if self.down_since is None:
            return
        if time.monotonic() >= self._next_probe and self._probing.acquire(blocking=False):
            try:
                self._probe()
            finally:
                self._probing.release()
        if self.down_since is not None:
            raise DatabaseUnreachable(
                f"PostgreSQL has not answered for {time.monotonic() - self.down_since:.0f} s")

    def failed(self) -> None:
        """A connection was lost or none came in time: find out whether the database is down."""
        if self.down_since is not None:
            return
        with self._probing:
            if self.down_since is None:
                self._probe()

    def reachable(self) -> bool:
        """Probe now (readiness)."""
        with self._probing:
            self._probe()
        return self.down_since is None

    def _probe(self) -> None:
        try:
            psycopg.connect(self.conninfo).close()
        except psycopg.Error as e:
            self._next_probe = time.monotonic() + PROBE_INTERVAL
            if self.down_since is None:
                self.down_since = time.monotonic()
                log.warning("database unreachable; answering 503 until it is back",
                            extra={"fields": {"error": str(e).strip()}})
            return
        if self.down_since is not None:
            log.warning("database back; reconnecting", extra={"fields": {
                "down_seconds": round(time.monotonic() - self.down_since, 1)}})
            self.down_since = None
            for pool in list(self._pools):
                if not pool.closed:
                    pool.drain()  # connections from before the outage are dead


_gates: dict[tuple[str, str, str], Gate] = {}
_gates_lock = threading.Lock()


def gate(conninfo: str) -> Gate:
    """The process's gate for the database `conninfo` names (a URL or key=value string)."""
    params = conninfo_to_dict(conninfo)
    key = (str(params.get("host", "")), str(params.get("port", "5432")), str(params.get("dbname", "")))
    with _gates_lock:
        if key not in _gates:
            _gates[key] = Gate(conninfo)
        return _gates[key]


class Pool(ConnectionPool[psycopg.Connection[Any]]):
    """psycopg_pool's pool behind the database's gate (see the module's notes)."""

    def __init__(self, conninfo: str, **options: Any) -> None:
        options.setdefault("timeout", pool_timeout())
        options.setdefault("reconnect_timeout", RECONNECT_TIMEOUT)
        options["kwargs"] = {"connect_timeout": CONNECT_TIMEOUT, **(options.get("kwargs") or {})}
        self.gate = gate(conninfo)
        super().__init__(conninfo, **options)
        self.gate.watch(self)

    def getconn(self, timeout: float | None = None) -> psycopg.Connection[Any]:
        for _ in range(self.max_size + 1):
            self.gate.check()
            conn = super().getconn(timeout)
            try:
                if may_be_lost(conn):
                    self.check_connection(conn)
                return conn
            except psycopg.OperationalError:  # lost in a restart or an outage: not for a request
                self.putconn(conn)  # the pool discards it and connects a new one
                self.gate.failed()
        raise DatabaseUnreachable("every pooled connection was lost")

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        conn = None
        try:
            with super().connection(timeout) as conn:
                yield conn
        except DatabaseUnreachable:
            raise
        except psycopg.OperationalError:
            if conn is None or conn.broken:  # not a statement's own error (a timeout, a lock)
                self.gate.failed()
            raise


def may_be_lost(conn: psycopg.Connection[Any]) -> bool:
    """Whether a pooled, idle connection needs a round trip to tell it still works.

    An idle connection has nothing to read: a server that ended it (a restart, an
    administrator, a timeout) left its goodbye and end-of-file in the socket, which a
    poll of the socket sees without asking the server anything. Asking on every
    checkout cost a round trip each, 8 per new booking request.
    """
    if conn.closed or conn.broken:
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


class _GatedDatastore(PostgresDatastore):
    gate: Gate

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[Any]]:
        self.gate.check()  # outside the library's error translation: its @retry lets this through
        conn = None
        try:
            with super().get_connection() as conn:
                yield conn
        except (persistence.OperationalError, persistence.InterfaceError):
            if conn is None or conn.broken:
                self.gate.failed()
            raise


class EventStoreFactory(PostgresFactory):
    """The library's PostgreSQL factory (`PERSISTENCE_MODULE`, see db.eventsourcing_env)
    with its datastore and pool behind the gate, like `Pool`."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The library builds its datastore itself, with no hook: give it our get_connection.
        self.datastore.__class__ = _GatedDatastore
        pool = self.datastore.pool
        if not self.env.get(self.POSTGRES_CONNECT_TIMEOUT):  # the library's name for its pool wait
            pool.timeout = pool_timeout()
        pool.reconnect_timeout = RECONNECT_TIMEOUT
        assert isinstance(pool.kwargs, dict)
        pool.kwargs["connect_timeout"] = CONNECT_TIMEOUT
        server = {k: pool.kwargs[k] for k in ("dbname", "host", "port", "user", "password")}
        datastore: _GatedDatastore = self.datastore  # type: ignore[assignment]
        datastore.gate = gate(make_conninfo(**server))
        datastore.gate.watch(pool)


def is_busy(error: BaseException) -> bool:
    """A lock or statement timeout (also as the eventsourcing library's translation of
    one): the database answers, a statement waited too long."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)):
            return True
        cause = cause.__cause__
    return False
