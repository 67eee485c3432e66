"""Rate limits on the write APIs, per caller and per client address, counted in
the service's own PostgreSQL so every gunicorn worker and process shares them.

One UPSERT per write request (GCRA, the generic cell rate algorithm): a row per
key holds its "theoretical arrival time" `tat`. "N per P" admits N requests at
once from rest, then one every P/N; a request is admitted when advancing `tat`
by P/N keeps it within P of now. The row lock of the UPSERT makes the decision
atomic across processes; no table lock. It runs on the event store's own pool
(autocommit: one round trip), before the command takes its connections.

A row whose `tat` has passed is at rest (the same as no row), so it can be
deleted at any time: each process prunes those once a minute, and the table
holds only keys active within the longest period. UNLOGGED: counters need no
WAL, and a crash only forgets them.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import psycopg
from eventsourcing.application import Application
from flask import Flask, g, request
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import config, db
from shared.errors import TooManyRequests

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRUNE_EVERY = 60.0          # seconds between a process's prunes of rows at rest
CHECKOUT_TIMEOUT = 1.0      # never hold a request longer for a connection to count with
log = logging.getLogger(__name__)

DDL = """
CREATE UNLOGGED TABLE IF NOT EXISTS rate_limits (
    key       text PRIMARY KEY,
    tat       timestamptz NOT NULL,   -- when the key is at rest again
    emission  interval NOT NULL,      -- P / N
    tolerance interval NOT NULL,      -- P
    allowed   boolean NOT NULL        -- the last request's verdict
);
"""
# Keys come sorted, so two requests sharing keys lock their rows in the same order.
_HIT = """
INSERT INTO rate_limits AS r (key, tat, emission, tolerance, allowed)
SELECT u.key, now() + u.emission, u.emission, u.tolerance, true
  FROM unnest(%(keys)s::text[], %(emissions)s::interval[], %(tolerances)s::interval[])
       WITH ORDINALITY AS u(key, emission, tolerance, n)
 ORDER BY u.n
ON CONFLICT (key) DO UPDATE SET
    allowed = greatest(r.tat, now()) + excluded.emission <= now() + excluded.tolerance,
    tat = CASE WHEN greatest(r.tat, now()) + excluded.emission <= now() + excluded.tolerance
               THEN greatest(r.tat, now()) + excluded.emission ELSE r.tat END
RETURNING key, allowed, extract(epoch FROM r.tat + r.emission - r.tolerance - now())::float8
"""
_PRUNE = "DELETE FROM rate_limits WHERE tat < now()"
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Rate:
    """At most `count` requests in any `period` seconds."""
    count: int
    period: float
    text: str

    @property
    def emission(self) -> timedelta:
        return timedelta(seconds=self.period / self.count)


def parse(spec: str) -> tuple[Rate, ...]:
    """'120/minute, 1200/hour' (also '5/10seconds'); 'off' means none."""
    if spec.strip().lower() == "off":
        return ()
    rates = []
    for part in spec.split(","):
        match = _SPEC.match(part)
        if not match or int(match[1]) < 1:
            raise ValueError(f"not a rate: {part.strip()!r} (expected e.g. '120/minute')")
        period = int(match[2] or 1) * _UNITS[match[3]]
        rates.append(Rate(int(match[1]), float(period), part.strip()))
    return tuple(rates)


@dataclass(frozen=True)
class Limit:
    scope: str            # "token" or "address"
    rate: Rate

    def key(self, who: str) -> str:
        digest = hashlib.blake2b(who.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        return f"{self.scope}:{self.rate.count}/{self.rate.period:g}s:{digest}"


Connections = Callable[[], ConnectionPool]


class RateLimiter:
    def __init__(self, connections: Connections, per_token: tuple[Rate, ...],
                 per_address: tuple[Rate, ...]) -> None:
        self.connections = connections
        self.limits = [Limit("token", r) for r in per_token] + \
                      [Limit("address", r) for r in per_address]
        self._ready = False
        self._pruned = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, connections: Connections) -> RateLimiter:
        return cls(connections, parse(config.require("RATE_LIMIT_PER_TOKEN")),
                   parse(config.require("RATE_LIMIT_PER_IP")))

    def hit(self, token: str | None, address: str) -> None:
        """Count one write; TooManyRequests naming the exceeded limit. Fails open
        when the database cannot be asked: the command itself will meet it."""
        keyed = sorted({limit.key(who): limit for limit in self.limits
                        for who in ([token] if limit.scope == "token" else [address])
                        if who}.items())
        if not keyed:
            return
        try:
            rows = self._count(keyed)
        except psycopg.Error as e:  # psycopg_pool's PoolTimeout and PoolClosed too
            log.warning("rate limits not counted", extra={"fields": {"error": repr(e)}})
            return
        by_key = dict(keyed)
        refused = [(wait, by_key[key]) for key, allowed, wait in rows if not allowed]
        if refused:
            wait, limit = max(refused, key=lambda r: r[0])
            retry = max(1, math.ceil(wait))
            who = "this token" if limit.scope == "token" else "this client address"
            raise TooManyRequests(
                f"more than {limit.rate.text} write requests from {who}; retry in {retry} s",
                headers={"Retry-After": str(retry)}, limit=limit.scope, rate=limit.rate.text,
                retry_after=retry)

    def _count(self, keyed: list[tuple[str, Limit]]) -> list[tuple[str, bool, float]]:
        pool = self.connections()
        pool.open()
        with pool.connection(timeout=CHECKOUT_TIMEOUT) as conn:
            if not self._ready:
                with conn.transaction():  # with every other start-up DDL (shared.db)
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (db.SCHEMA_LOCK,))
                    conn.execute(DDL)
                self._ready = True
            rows = conn.cursor(row_factory=tuple_row).execute(_HIT, {
                "keys": [k for k, _ in keyed],
                "emissions": [limit.rate.emission for _, limit in keyed],
                "tolerances": [timedelta(seconds=limit.rate.period) for _, limit in keyed],
            }).fetchall()
            if self._prune_due():
                conn.execute(_PRUNE)
        return rows

    def _prune_due(self) -> bool:
        with self._lock:
            if time.monotonic() - self._pruned < PRUNE_EVERY:
                return False
            self._pruned = time.monotonic()
            return True


def client_address() -> str:
    """The caller's address; an IPv6 one by its /64 (one host usually holds the whole
    /64). X-Forwarded-For counts only through ProxyFix, see `install`."""
    raw = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def store_pool(application: Application[Any]) -> ConnectionPool:
    """The connection pool of an `eventsourcing` application's PostgreSQL store."""
    pool: ConnectionPool = cast(Any, application.recorder).datastore.pool
    return pool


def install(app: Flask, connections: Connections,
            exempt: Collection[str] = ()) -> RateLimiter | None:
    """Limit the app's POST/PUT/PATCH/DELETE requests but those to `exempt` paths
    (after authentication, so the caller is known; link endpoints without a token
    count by address only).

    With TRUSTED_PROXY_COUNT=n > 0, the client address is the n-th entry from the
    right of X-Forwarded-For (werkzeug's ProxyFix); else the header is ignored, as
    anyone can send it.
    """
    proxies = int(config.require("TRUSTED_PROXY_COUNT"))
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    limiter = RateLimiter.from_settings(connections)
    if not limiter.limits:
        return None

    @app.before_request
    def _rate_limit() -> None:
        if request.method not in WRITE_METHODS or request.path in exempt:
            return
        principal = g.get("principal")
        token = f"{principal.org}\x1f{principal.subject}" if principal else None
        limiter.hit(token, client_address())

    app.extensions["rate_limiter"] = limiter
    return limiter
