"""The projections' one wiring place: `Settings` in, `ProjectionsParts` out.

The shape every service's bootstrap has:
- `Settings`: a frozen dataclass; `Settings.from_env(**overrides)` reads the environment
  (shared/config.py); tests build theirs by hand (their own topics, group, database, clock).
- `wire(settings) -> ProjectionsParts`: the wired parts (the live tables made, the process's
  pool). There is no process-wide accessor: each entry point (http, consumer, rebuild, purge)
  wires once from its settings, and `db.pool` keeps one pool per URL and process; the consumer
  and producers of Kafka are made by the entry points that use them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from psycopg_pool import ConnectionPool

from services.projections.adapters.schema import LIVE
from shared import config, db
from shared.kafka import APPOINTMENTS, DIRECTORY

GROUP_ID = "projections"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Settings:
    database_url: str
    bootstrap_servers: str = ""
    topics: tuple[str, ...] = (APPOINTMENTS, DIRECTORY)
    group_id: str = GROUP_ID
    booking_url: str = "http://127.0.0.1:8001"
    read_your_writes_timeout: float = 5.0       # seconds a query waits for min_position
    purge_interval: float = 3600.0               # seconds between retention purges
    topic_check_interval: float = 3.0            # seconds between "are our topics there?"
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from the environment; overrides that are None are ignored."""
        return cls(**config.overridden(
            overrides, database_url=lambda: config.database_url("projections"),
            bootstrap_servers=lambda: config.get("KAFKA_BOOTSTRAP_SERVERS") or "",
            booking_url=lambda: config.get("BOOKING_PUBLIC_URL") or cls.booking_url))


@dataclass(frozen=True)
class ProjectionsParts:
    settings: Settings
    pool: ConnectionPool


def wire(settings: Settings) -> ProjectionsParts:
    """Create the live tables (idempotent); the parts hold the process-wide pool."""
    db.run_schema(settings.database_url, LIVE.ddl())
    return ProjectionsParts(settings, db.pool(settings.database_url))
