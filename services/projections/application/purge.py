"""Retention: past appointments older than their organisation's retention
period (`retention_days`) leave the read model, with their status history.

Run by the consumer every `purge_interval` seconds and by the command
`python -m services.projections.entrypoints.purge`.
"""
from __future__ import annotations

from datetime import datetime

from psycopg_pool import ConnectionPool

from services.projections.adapters import store
from services.projections.adapters.schema import LIVE, LIVE_LOCK


def purge(pool: ConnectionPool, now: datetime) -> int:
    """Remove what is beyond retention at `now`; how many appointments went."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (LIVE_LOCK,))
        return store.purge(conn, LIVE, now)
