"""The booking relay process: `python -m services.booking.entrypoints.relay`.

Follows booking's notification log (the outbox) and publishes each event to
`appointments.events` or `directory.events` (see adapters/cloudevents.py).
Beside it, a thread signs the changed organisations' chain heads every
`AUDIT_CHECKPOINT_INTERVAL` seconds and publishes them on `audit.checkpoints`.
Besides decoding, an event must match its chain hash to be published (`checks`).

`... relay status` says whether it is halted at an event it must not publish;
`... relay resolve --position N --by NAME --reason WHY (--republish-corrected
FILE | --skip-with-record)` resumes it by a recorded decision (shared/relay_resolve.py)."""
from __future__ import annotations

import sys
import threading
from typing import Any

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.audit import keys
from services.booking.audit.checkpoints import Checkpointer
from services.booking.audit.relay_check import ChainCheck
from services.booking.entrypoints.http import RELAY_NAME
from shared import logs, relay_resolve
from shared.relay import run
from shared.relay_halt import Check


def checks(application: Any) -> list[Check]:
    """What an event must pass, besides decoding, to be published (and to resume with)."""
    return [ChainCheck(application)]


def main(argv: list[str]) -> int:
    if argv:
        logs.setup("booking-relay-operator")
        parts = bootstrap.parts()
        return relay_resolve.main(argv, parts.application, to_messages,
                                  parts.settings.database_url, RELAY_NAME,
                                  checks(parts.application))
    logs.setup("booking-relay")
    parts = bootstrap.parts()
    application, settings = parts.application, parts.settings
    url, servers = settings.database_url, settings.kafka_required()
    checkpointer = Checkpointer(url, servers, keys.signing_key(),
                                interval=settings.checkpoint_interval)
    stop = threading.Event()
    thread = threading.Thread(target=checkpointer.run, args=(stop,), name="checkpoints",
                              daemon=True)
    thread.start()
    try:
        run(application=application, to_messages=to_messages, database_url=url, name=RELAY_NAME,
            checks=checks(application), bootstrap_servers=servers)
    finally:
        stop.set()
        thread.join(5)
        checkpointer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
