"""Helpers for the notifier's integration tests: waiting, reading the ledger,
reading a topic from its start and starting the real worker process."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition
from psycopg.rows import dict_row

from tests.waiting import (
    first_within,
    wait_until,  # noqa: F401 - the notifier tests import it from here
)


def rows(url: str, where: str = "TRUE", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM deliveries WHERE {where} ORDER BY id",
                            params).fetchall()


def read_topic(bootstrap: str, topic: str, at_least: int,
               timeout: float = 20.0) -> list[tuple[bytes, dict[str, Any], dict[str, bytes]]]:
    """(key, JSON value, headers) of a topic's messages from the earliest offset.

    Assigns the partitions itself (no consumer group, so no join to wait for).
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    got: list[tuple[bytes, dict[str, Any], dict[str, bytes]]] = []
    deadline = time.monotonic() + timeout

    def enough_read() -> bool:
        for records in consumer.poll(timeout_ms=200).values():
            got.extend((r.key, json.loads(r.value), dict(r.headers or [])) for r in records)
        return len(got) >= at_least

    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), timeout)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        first_within(enough_read, max(0.0, deadline - time.monotonic()), interval=0)
    finally:
        consumer.close(autocommit=False)
    return got


def start_worker(settings: Any, env: dict[str, str], log_path: Path,
                 lease: float = 2.0) -> subprocess.Popen[bytes]:
    """`python -m services.notifier.entrypoints.consumer` with these settings, in `env`."""
    env = {**env, "NOTIFIER_DATABASE_URL": settings.database_url,
           "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    args = ["--topic", settings.topic, "--directory-topic", settings.directory_topic,
            "--group", settings.group_id, "--events-topic", settings.events_topic,
            "--poll-interval", "0.05", "--timer-interval", "0.2",
            "--backoff-base", "0.05", "--send-timeout", "1", "--lease", str(lease)]
    root = Path(__file__).resolve().parents[2]
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "services.notifier.entrypoints.consumer",
                                 *args], cwd=root, env=env, stdout=log, stderr=log)
