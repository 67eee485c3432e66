"""The parts of read-your-writes (shared/freshness.py) on the real broker: the
relay's fence, true end offsets on a broker that reports short ones, and the
progress of a re-created topic."""
from __future__ import annotations

import time

from kafka.structs import TopicPartition

from shared import kafka
from shared.end_offsets import Ends
from shared.freshness import FENCE, Handled, fence_of
from shared.relay import Relay
from tests.fakes.events import appointment_event
from tests.integration.relaying import NotificationLog
from tests.integration.test_relay import read_all


def test_the_relay_sends_a_batchs_last_event_alone_after_the_rest_with_its_fence(
        infra, fresh_db, unique_topic):
    log = NotificationLog()
    log.append([appointment_event("request", position=p) for p in range(1, 6)])
    relay = Relay(log, lambda _, ns: [(unique_topic, n.event.subject, n.event) for n in ns],
                  fresh_db, "fence-test", infra.kafka_bootstrap_servers)
    sends: list[list[tuple]] = []
    send_all = relay.drainer.producer.send_all

    def recording(records):
        records = list(records)
        sends.append(records)
        send_all(records)
    relay.drainer.producer.send_all = recording  # type: ignore[method-assign]
    try:
        assert relay.step() == 5
    finally:
        relay.close()
    # Two sends, each acknowledged before the next: four events, then the fifth, fenced
    assert [len(s) for s in sends] == [4, 1]
    assert [fence_of(r[3]) for r in sends[0]] == [None] * 4
    assert fence_of(sends[1][0][3]) == 5
    published = read_all(infra.kafka_bootstrap_servers, unique_topic, 5)
    assert sorted(m["position"] for m in published) == [1, 2, 3, 4, 5]


def test_end_offsets_are_the_true_ends_when_records_share_a_batch(infra, unique_topic):
    producer = kafka.producer(infra.kafka_bootstrap_servers, linger_ms=50)
    for count in (5, 3):  # two record batches: offsets 0..4 and 5..7
        futures = [producer.send(unique_topic, value=b"x", partition=0) for _ in range(count)]
        producer.flush()
        assert all(f.get(10) for f in futures)
    producer.close()
    ends = Ends(infra.kafka_bootstrap_servers, (unique_topic,))
    try:
        sample = ends.after(0.0, time.monotonic() + 10)
    finally:
        ends.close()
    assert sample is not None
    assert sample.offsets[TopicPartition(unique_topic, 0)] == 8  # Tansu itself reports 6
    assert sample.offsets[TopicPartition(unique_topic, 1)] == 0


def test_the_progress_of_a_former_topic_counts_for_nothing():
    tp = TopicPartition("t", 0)
    sample = Ends.Sample({tp: 3}, {"t": "new-id"})
    assert Handled(9, {tp: (5, "new-id")}).reached(sample)
    assert Handled(9, {tp: (5, "")}).reached(sample)  # id not known: the offset counts
    assert not Handled(9, {tp: (5, "old-id")}).reached(sample)
    assert not Handled(9, {}).reached(sample)


def test_a_fence_header_is_read_back_and_a_bad_one_ignored():
    assert fence_of([("content-type", b"x"), (FENCE, b"42")]) == 42
    assert fence_of([(FENCE, b"forty")]) is None
    assert fence_of(None) is None
