"""The booking relay process: `python -m services.booking.entrypoints.relay`.

Follows booking's notification log (the outbox) and publishes each event to
`appointments.events` or `directory.events` (see adapters/cloudevents.py).
Beside it, a thread signs the changed organisations' chain heads every
`AUDIT_CHECKPOINT_INTERVAL` seconds and publishes them on `audit.checkpoints`.

`... relay status` says whether it is halted at an event it must not publish;
`... relay resolve --position N --by NAME --reason WHY (--republish-corrected
FILE | --skip-with-record)` resumes it by a recorded decision (shared/relay_resolve.py)."""
from __future__ import annotations

import sys
import threading

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.audit import keys
from services.booking.audit.checkpoints import Checkpointer
from services.booking.entrypoints.http import RELAY_NAME
from shared import config, logs, relay_resolve
from shared.relay import run


def main(argv: list[str]) -> int:
    if argv:
        logs.setup("booking-relay-operator")
        return relay_resolve.main(argv, bootstrap.booking(), to_messages,
                                  config.database_url("booking"), RELAY_NAME)
    logs.setup("booking-relay")
    application = bootstrap.booking()
    url = config.database_url("booking")
    checkpointer = Checkpointer(url, config.require("KAFKA_BOOTSTRAP_SERVERS"), keys.signing_key(),
                                interval=float(config.require("AUDIT_CHECKPOINT_INTERVAL")))
    stop = threading.Event()
    thread = threading.Thread(target=checkpointer.run, args=(stop,), name="checkpoints",
                              daemon=True)
    thread.start()
    try:
        run(application=application, to_messages=to_messages, database_url=url, name=RELAY_NAME)
    finally:
        stop.set()
        thread.join(5)
        checkpointer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
