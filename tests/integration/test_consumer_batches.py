"""The consumer runtime's batches (shared/consumer.py `Batches`): a poll in one
transaction, a savepoint per record, against the real PostgreSQL and broker.

The handler writes a row per record into a table WITHOUT a unique key, so a
record applied twice, or a rolled-back batch half kept, shows as a duplicate row."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

import psycopg
import pytest
from kafka import KafkaAdminClient
from kafka.consumer.fetcher import ConsumerRecord
from psycopg_pool import ConnectionPool

from shared import kafka
from shared.consumer import Batches, ConsumerRuntime
from tests.integration.projections.support import read_topic
from tests.waiting import wait_until

Apply = Callable[[psycopg.Connection, ConsumerRecord], object]


class Poison(Exception):
    pass


@pytest.fixture
def pool(fresh_db: str) -> Iterator[ConnectionPool]:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE seen (value text NOT NULL, txid bigint NOT NULL)")
    with ConnectionPool(fresh_db, min_size=1, max_size=2, open=True) as p:
        yield p


def send(bootstrap: str, topic: str, values: Sequence[bytes]) -> None:
    """One key, so one partition: the records' order is the test's."""
    producer = kafka.producer(bootstrap)
    for value in values:
        producer.send(topic, key=b"one", value=value)
    producer.flush(10)
    producer.close()


@contextlib.contextmanager
def consuming(infra, topic: str, pool: ConnectionPool, apply: Apply,
              kept: list[object]) -> Iterator[ConsumerRuntime]:
    runtime = ConsumerRuntime(infra.kafka_bootstrap_servers, f"g-{topic}", [topic],
                              Batches(pool, apply, committed=kept.extend), expected=(Poison,),
                              retry_wait=0.2, database_url=str(pool.conninfo))
    stop = threading.Event()
    thread = threading.Thread(target=runtime.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield runtime
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive()


def rows(pool: ConnectionPool) -> list[tuple[str, int]]:
    with pool.connection() as conn:
        return [(v, t) for v, t in conn.execute("SELECT value, txid FROM seen ORDER BY value")]


def committed(infra, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    try:
        offsets = admin.list_group_offsets(f"g-{topic}").get(f"g-{topic}", {})
    finally:
        admin.close()
    return sum(max(0, o.offset) for tp, o in offsets.items() if tp.topic == topic)


def insert(conn: psycopg.Connection, record: ConsumerRecord) -> str:
    conn.execute("INSERT INTO seen VALUES (%s, txid_current())", (record.value.decode(),))
    return str(record.value.decode())


def test_a_poison_record_mid_batch_is_dead_lettered_alone_and_its_neighbours_applied_once(
        infra, unique_topic, pool):
    def apply(conn: psycopg.Connection, record: ConsumerRecord) -> str:
        done = insert(conn, record)  # written, then refused: its savepoint undoes it
        if record.value == b"poison":
            raise Poison("not one of ours")
        return done

    values = [b"a", b"b", b"poison", b"c", b"d"]
    send(infra.kafka_bootstrap_servers, unique_topic, values)
    kept: list[object] = []
    with consuming(infra, unique_topic, pool, apply, kept):
        wait_until(lambda: committed(infra, unique_topic) == len(values),
                   what="offsets committed past the whole batch")
        letters = read_topic(infra.kafka_bootstrap_servers, kafka.dlq(unique_topic), 1)
    seen = rows(pool)
    assert [v for v, _ in seen] == ["a", "b", "c", "d"]
    assert len({t for _, t in seen}) < len(seen), "records of one poll share a transaction"
    assert sorted(map(str, kept)) == ["a", "b", "c", "d"]
    assert [r.value for r in letters] == [b"poison"]
    assert dict(letters[0].headers)["reason"] == b"not one of ours"


def test_the_database_killed_mid_batch_loses_and_duplicates_nothing(infra, unique_topic, pool):
    calls: dict[bytes, int] = {}

    def apply(conn: psycopg.Connection, record: ConsumerRecord) -> str:
        calls[record.value] = calls.get(record.value, 0) + 1
        done = insert(conn, record)
        if record.value == b"v3" and calls[record.value] == 1:  # the first time only
            with psycopg.connect(str(pool.conninfo), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            conn.execute("SELECT 1")  # the connection is gone: OperationalError
        return done

    values = [f"v{n}".encode() for n in range(6)]
    send(infra.kafka_bootstrap_servers, unique_topic, values)
    kept: list[object] = []
    with consuming(infra, unique_topic, pool, apply, kept):
        wait_until(lambda: committed(infra, unique_topic) == len(values),
                   what="offsets committed past the whole batch")
    assert [v for v, _ in rows(pool)] == [f"v{n}" for n in range(6)]  # each once
    assert calls[b"v0"] == 2, "the batch was rolled back and read again from its start"
    assert sorted(map(str, kept)) == [f"v{n}" for n in range(6)]
    with psycopg.connect(str(pool.conninfo)) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
