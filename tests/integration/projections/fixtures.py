"""Fixtures of the projections' integration tests, registered by each test
module with `pytest_plugins` (no conftest.py, so module names never collide
with other services' tests)."""
from __future__ import annotations

import pytest

from services.projections.bootstrap import Settings, wire
from shared import kafka
from tests.integration.projections.support import NOW


@pytest.fixture
def settings(infra, fresh_db, unique_topic) -> Settings:
    """Settings of a consumer with its own topics, group, database and clock."""
    directory = unique_topic + ".directory"
    kafka.ensure_topics(infra.kafka_bootstrap_servers,
                        [directory, kafka.dlq(unique_topic), kafka.dlq(directory)])
    s = Settings(database_url=fresh_db, bootstrap_servers=infra.kafka_bootstrap_servers,
                 topics=(unique_topic, directory), group_id=f"projections-{unique_topic}",
                 read_your_writes_timeout=5.0, purge_interval=3600,
                 clock=lambda: NOW)
    wire(s)
    return s
