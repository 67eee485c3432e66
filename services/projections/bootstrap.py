"""The one wiring place of the projections: settings -> parts.

Tests build a `Settings` by hand (their own topics, group, database, clock);
processes use `Settings.from_env()`. Pools, consumers and producers are made
once per process by the entrypoints from these settings.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
        settings = cls(database_url=config.database_url("projections"),
                       bootstrap_servers=config.get("KAFKA_BOOTSTRAP_SERVERS") or "",
                       booking_url=config.get("BOOKING_PUBLIC_URL") or cls.booking_url)
        return replace(settings, **overrides)


def database(settings: Settings) -> ConnectionPool:
    """Create the live tables (idempotent) and return the process-wide pool."""
    db.run_schema(settings.database_url, LIVE.ddl())
    return db.pool(settings.database_url)
