"""Re-drive dead letters: read `notifications.events.dlq` and put those deliveries
back to pending, so the senders try them again (after the cause was fixed).

Reading uses its own consumer group (`notifier-redrive`), from the earliest
offset the first time; offsets are committed after the rows were reset, so a
second run re-drives only what was dead-lettered since. A row that is no
longer 'failed' is left alone, so nothing already sent goes out again.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaConsumer

from services.notifier.adapters.ledger import Ledger
from shared.envelope import CloudEvent, InvalidEnvelope


@dataclass
class RedriveReport:
    redriven: list[dict[str, object]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def redrive(consumer: KafkaConsumer, ledger: Ledger, say: Callable[[str], None] = print,
            timeout: float = 30.0) -> RedriveReport:
    """Read the subscribed dead-letter topic up to its end, re-drive, commit."""
    report = RedriveReport()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                _one(record.value, record.headers, ledger, report, say)
        assigned = consumer.assignment()
        if assigned:
            consumer.commit()
            ends = consumer.end_offsets(list(assigned))
            if all(consumer.position(tp) >= ends[tp] for tp in assigned):
                break
    else:
        say(f"stopped after {timeout:.0f}s before reaching the end of the topic")
    say(f"re-drove {len(report.redriven)} deliveries; ignored {len(report.ignored)} dead letters")
    return report


def _one(raw: bytes, headers: list[tuple[str, bytes]], ledger: Ledger, report: RedriveReport,
         say: Callable[[str], None]) -> None:
    try:
        data = CloudEvent.from_kafka(raw, headers).data
        delivery_id = int(data["id"])
    except (InvalidEnvelope, KeyError, TypeError, ValueError):
        report.ignored.append("unreadable dead letter")
        say("ignored an unreadable dead letter")
        return
    row = ledger.redrive(delivery_id)
    if row is None:
        report.ignored.append(str(delivery_id))
        say(f"delivery {delivery_id}: not failed any more (or unknown), left alone")
        return
    report.redriven.append({"id": delivery_id, "channel": row["channel"], "to": row["address"]})
    say(f"delivery {delivery_id}: {row['channel']} to {row['address']} "
        f"({row['event_type']}, appointment {row['appointment_id']}) is pending again; "
        f"was: {data.get('reason') or row['last_error']}")
