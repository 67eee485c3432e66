"""The consumer as operators run it: `python -m ...consumer`, configured by the
environment, applies events, commits only what it applied, stops cleanly on
SIGTERM. And the read-your-writes listener wakes a waiting query by the
consumer's NOTIFY."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from services.projections.bootstrap import wire
from shared import kafka
from shared.freshness import Freshness, Progress
from tests.integration.projections.support import applied_count, publish, wait_until
from tests.unit.projections.factory import Booking, slot

ROOT = Path(__file__).resolve().parents[3]

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def test_the_consumer_process_applies_commits_and_stops_on_sigterm(settings, tmp_path):
    booking = Booking()
    aid = booking.request(slot_=slot("2026-11-23", "09:00")).subject
    booking.act(aid, "confirm")
    booking.resource("agent-7")
    publish(settings, booking.events)
    env = {**os.environ, "PROJECTIONS_DATABASE_URL": settings.database_url,
           "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    log = open(tmp_path / "consumer.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.projections.entrypoints.consumer",
         "--topic", settings.topics[0], "--topic", settings.topics[1],
         "--group", settings.group_id],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: applied_count(settings) == 3, what="the process applied the events")
        wait_until(lambda: committed_at_end(settings), what="the commit that follows the batch")
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    assert "consumer stopped cleanly" in (tmp_path / "consumer.log").read_text()

    # The group's committed offsets are at the end: a restart reads nothing twice
    committed, ends = offsets(settings)
    assert sum(ends.values()) == 3
    assert committed == ends


def offsets(settings) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """The group's committed offset and the end offset of each partition it reads."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    committed = admin.list_group_offsets(settings.group_id).get(settings.group_id, {})
    admin.close()
    probe = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    ends = probe.end_offsets([TopicPartition(t, p) for t in settings.topics
                              for p in range(kafka.partition_count())])
    probe.close()
    return {tp: max(0, committed[tp].offset) if tp in committed else 0 for tp in ends}, ends


def committed_at_end(settings) -> bool:
    committed, ends = offsets(settings)
    return sum(ends.values()) > 0 and committed == ends


def test_a_waiting_query_is_woken_by_the_notification_not_the_poll(settings):
    pool = wire(settings).pool
    freshness = Freshness(settings.database_url, pool, settings.bootstrap_servers,
                          settings.group_id, settings.topics, timeout=5,
                          poll=30)  # poll only at start
    progress = Progress(settings.database_url, settings.group_id)
    # The consumer handled the fence at 77 (its topics are empty: nothing else to read)
    handled = {TopicPartition(settings.topics[0], 0): 0}
    threading.Timer(0.5, lambda: progress.record(handled, 77, {})).start()
    started = time.monotonic()
    assert freshness.wait(77)
    assert 0.4 < time.monotonic() - started < 2.5
    assert not freshness.wait(78, timeout=0.2)
    freshness.close()


def test_a_consumer_killed_mid_batch_applies_every_event_exactly_once_after_restart(
        settings, tmp_path):
    # A poll's events are applied in one transaction: SIGKILL loses the open one
    # whole, the offsets were never committed past it, and the next process reads
    # it again; nothing is lost, nothing applied twice.
    booking = Booking()
    ids = []
    for n in range(150):  # three polls of up to 200
        aid = booking.request(slot_=slot("2026-11-23", f"{8 + n % 10:02d}:00")).subject
        booking.act(aid, "confirm")
        booking.act(aid, "note_added")
        ids.append(aid)
    publish(settings, booking.events)
    total = len(booking.events)
    env = {**os.environ, "PROJECTIONS_DATABASE_URL": settings.database_url,
           "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    command = [sys.executable, "-m", "services.projections.entrypoints.consumer",
               "--topic", settings.topics[0], "--topic", settings.topics[1],
               "--group", settings.group_id]
    with open(tmp_path / "first.log", "wb") as log:
        first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: applied_count(settings) > 0, what="a first batch committed")
        finally:
            first.kill()  # SIGKILL, mid-way through the backlog
            first.wait(15)
    assert 0 < applied_count(settings) < total, "killed mid-way"
    with open(tmp_path / "second.log", "wb") as log:
        second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: applied_count(settings) == total, timeout=120,
                       what="the restarted process applied the rest")
            wait_until(lambda: committed_at_end(settings), what="its commit")
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
        finally:
            if second.poll() is None:
                second.kill()
    with psycopg.connect(settings.database_url) as conn:
        outcomes = conn.execute("SELECT outcome, count(*) FROM applied_events"
                                " GROUP BY outcome").fetchall()
        history = conn.execute("SELECT appointment_id, count(*), max(version)"
                               " FROM status_history GROUP BY 1").fetchall()
        views = conn.execute("SELECT status, version, count(*) FROM appointments"
                             " GROUP BY 1, 2").fetchall()
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    assert outcomes == [("applied", total)]
    assert sorted(history) == sorted((aid, 3, 3) for aid in ids)  # every version once
    assert views == [("scheduled", 3, len(ids))]
    assert dead == (0,)
