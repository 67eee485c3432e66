"""End offsets of a view's topics, read by the API process for read-your-writes
(shared/freshness.py).

End offsets: Tansu answers ListOffsets with the last record batch's base offset
+ 1 (a batch of 3 records at 5..7 gives 6, not 8), so the true end is found by
fetching from that offset - 1 (on Apache Kafka the last record). One sample
serves every read anchored before it was taken. A topic re-created under the
consumer (the development broker restarted empty) starts again at offset 0:
offsets are recorded with the topic's id, and those of a former topic count as
0, so a read never takes the old topic's progress for the new one's.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from shared import devbroker

log = logging.getLogger(__name__)


class Ends:
    """End offsets of the consumed topics' partitions, one sample shared by readers."""

    @dataclass(frozen=True)
    class Sample:
        offsets: dict[TopicPartition, int]
        ids: dict[str, str]  # topic -> its id when sampled

    def __init__(self, bootstrap_servers: str, topics: tuple[str, ...]) -> None:
        self.bootstrap_servers, self.topics = bootstrap_servers, topics
        self._lock = threading.Lock()
        self._consumer: KafkaConsumer | None = None
        self._ids = devbroker.TopicIds(bootstrap_servers)
        self._sample: tuple[float, Ends.Sample] | None = None

    def after(self, moment: float, deadline: float) -> Ends.Sample | None:
        """Ends sampled after `moment` (monotonic); None when not found by the deadline."""
        with self._lock:
            if self._sample and self._sample[0] >= moment:
                return self._sample[1]
            while True:
                started = time.monotonic()
                try:
                    ends = self._read(deadline)
                except Exception as e:  # noqa: BLE001 - the broker away: the read is not fresh
                    log.warning("could not read the topics' end offsets: %r", e)
                    self.close()
                    return None
                if ends is not None:
                    self._sample = (started, ends)
                    return ends
                if time.monotonic() + 0.1 >= deadline:  # metadata not there yet: ask again
                    return None
                time.sleep(0.1)

    def _read(self, deadline: float) -> Ends.Sample | None:
        ids = self._ids.current(self.topics)
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap_servers,
                                           group_id=None, enable_auto_commit=False,
                                           request_timeout_ms=5000)
        c = self._consumer
        partitions = [TopicPartition(t, p) for t in self.topics
                      for p in sorted(c.partitions_for_topic(t) or ())]
        if len(partitions) == 0 or {tp.topic for tp in partitions} != set(self.topics):
            c.topics()  # refresh the metadata; the reader tries again
            return None
        reported = c.end_offsets(partitions)
        c.assign(partitions)
        tails = [tp for tp, end in reported.items() if end > 0]
        for tp in tails:
            c.seek(tp, reported[tp] - 1)
        pending = set(tails)
        while pending and time.monotonic() < deadline:
            c.poll(timeout_ms=100, update_offsets=True)
            pending = {tp for tp in pending if c.position(tp) < reported[tp]}
        if pending:
            return None
        return Ends.Sample({tp: max(reported[tp], c.position(tp)) if tp in tails else 0
                            for tp in partitions}, ids)

    def close(self) -> None:
        self._ids.close()
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
