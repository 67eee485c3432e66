"""PostgreSQL plumbing: one pool per process and database, created once."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from psycopg import sql

from shared import config, outage

LOCK_TIMEOUT_SECONDS = 5
_pools: dict[str, outage.Pool] = {}
_lock = threading.Lock()


def threads_per_process() -> int:
    """A pool never needs more connections than the threads that use it; sized so, the
    whole system stays within PostgreSQL's default 100 connections (README, runbook)."""
    return int(config.require("WEB_THREADS"))


def pool(url: str, max_size: int | None = None) -> outage.Pool:
    """The process-wide pool for `url` (never a connection per request)."""
    with _lock:
        if url not in _pools:
            _pools[url] = outage.Pool(
                url, min_size=1, max_size=max_size or threads_per_process(), open=True,
                kwargs={"autocommit": False},
            )
        return _pools[url]


def close_pools() -> None:
    with _lock:
        for p in _pools.values():
            p.close()
        _pools.clear()


def is_reachable(url: str) -> bool:
    """Whether the database answers now (readiness); also tells the pools' gate."""
    return outage.gate(url).reachable()


def eventsourcing_env(url: str, name: str) -> dict[str, str]:
    """The `eventsourcing` settings (prefixed by application name) for a URL.

    A Unix-socket URL (`?host=/dir`) works as well as a TCP one.
    """
    parts = urlparse(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    prefix = name.upper()
    return {
        "PERSISTENCE_MODULE": "shared.outage:EventStoreFactory",
        f"{prefix}_POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
        f"{prefix}_POSTGRES_HOST": host,
        f"{prefix}_POSTGRES_PORT": str(parts.port or 5432),
        f"{prefix}_POSTGRES_USER": unquote(parts.username or "postgres"),
        f"{prefix}_POSTGRES_PASSWORD": unquote(parts.password or ""),
        # One connection kept open, more only while that many threads are busy.
        f"{prefix}_POSTGRES_POOL_SIZE": "1",
        f"{prefix}_POSTGRES_MAX_OVERFLOW": str(threads_per_process() - 1),
        # No pre-ping: it costs a round trip per checkout, and the library
        # already retries a statement that meets a dead connection.
        f"{prefix}_POSTGRES_PRE_PING": "n",
        # A save waits at most this long (seconds) for the event table's lock, and
        # a transaction left idle is ended after this long: no stuck writer holds
        # the table for more than seconds (README, input limits).
        f"{prefix}_POSTGRES_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
        f"{prefix}_POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
        "CREATE_TABLE": "y",
    }


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlparse(url)
    return parts._replace(path=f"/{dbname}").geturl()


def with_user(url: str, user: str, password: str) -> str:
    """The same server and database URL, logging in as another role."""
    parts = urlparse(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:{password}@{host}").geturl()


APP_ROLE, APP_PASSWORD = "app", "app"  # the role services use where infra creates it


def create_app_role(server_url: str) -> None:
    """The login role every service process connects as (idempotent): grants are given
    per database by the owner at start-up (`grant_append_only`)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(APP_PASSWORD)))


def create_database(server_url: str, dbname: str) -> None:
    """Create `dbname` on the server if it does not exist yet (idempotent)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


SCHEMA_LOCK = 4242


@contextmanager
def schema_lock(url: str) -> Iterator[psycopg.Connection]:
    """Serialise schema changes on one database across processes.

    `CREATE TABLE IF NOT EXISTS` is not safe when two processes (gunicorn
    workers, a relay) run it at the same moment; everything that creates
    tables at start-up does it under this lock.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def run_schema(url: str, ddl: str) -> None:
    """Apply a module's idempotent DDL (CREATE ... IF NOT EXISTS) once at start-up."""
    with schema_lock(url) as conn:
        conn.execute(ddl)


def owner_url(service: str, url: str) -> str:
    """The URL schema changes of `service`'s store run with: `<SERVICE>_OWNER_DATABASE_URL`
    when `url` is the service's configured one, else `url` itself (tests, one role)."""
    owner = config.get(f"{service.upper()}_OWNER_DATABASE_URL")
    if owner and url == config.get(f"{service.upper()}_DATABASE_URL"):
        return owner
    return url


def role_of(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row
    return str(row[0])


def grant_append_only(owner_url: str, app_url: str, event_tables: list[str]) -> None:
    """As the owner: the app role may use every table of the schema, but only SELECT and
    INSERT the event tables (no UPDATE, DELETE or TRUNCATE). MAINTAIN (PostgreSQL 17+)
    lets it take the EXCLUSIVE lock the eventsourcing library serialises inserts with."""
    role = role_of(app_url)
    if role == role_of(owner_url):
        return
    app = sql.Identifier(role)
    with schema_lock(owner_url) as conn:
        tables = sql.SQL(", ").join(sql.Identifier(t) for t in event_tables)
        for statement in (
                "GRANT USAGE, CREATE ON SCHEMA public TO {app}",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}",
                "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}",
                "REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM {app}",
                "GRANT MAINTAIN ON {tables} TO {app}"):
            conn.execute(sql.SQL(statement).format(app=app, tables=tables))
