"""Re-send dead-lettered deliveries once their cause is fixed.

    python -m services.notifier.entrypoints.redrive [--group notifier-redrive]

Reads `notifications.events.dlq` with its own consumer group (from the earliest
offset the first time), puts each failed delivery back to pending, prints what
it re-drove and exits. The running notifier process sends them.
"""
from __future__ import annotations

import argparse

from services.notifier import bootstrap
from services.notifier.application.redrive import RedriveReport, redrive
from services.notifier.bootstrap import Settings
from shared import kafka, logs


def run(settings: Settings, group_id: str = "notifier-redrive",
        timeout: float = 30.0) -> RedriveReport:
    ledger = bootstrap.wire(settings).ledger
    consumer = kafka.consumer(settings.bootstrap_servers, group_id, settings.dlq_topic)
    try:
        return redrive(consumer, ledger, timeout=timeout)
    finally:
        consumer.close(autocommit=False)


def main(argv: list[str] | None = None) -> None:
    logs.setup("notifier-redrive")
    p = argparse.ArgumentParser(description="Re-drive notifications.events.dlq")
    p.add_argument("--group", default="notifier-redrive", help="consumer group id")
    p.add_argument("--events-topic",
                   help="delivery events topic whose .dlq twin to read (notifications.events)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="give up reading after this many seconds")
    args = p.parse_args(argv)
    run(Settings.from_env(events_topic=args.events_topic), args.group, args.timeout)


if __name__ == "__main__":
    main()
