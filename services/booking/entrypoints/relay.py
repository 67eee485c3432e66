"""The booking relay process: `python -m services.booking.entrypoints.relay`.

Follows booking's notification log (the outbox) and publishes each event to
`appointments.events` or `directory.events` (see adapters/cloudevents.py).
Beside it, a thread signs the changed organisations' chain heads every
`AUDIT_CHECKPOINT_INTERVAL` seconds and publishes them on `audit.checkpoints`."""
from __future__ import annotations

import threading

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.audit import keys
from services.booking.audit.checkpoints import Checkpointer
from shared import config, logs
from shared.relay import run


def main() -> None:
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
        run(application=application, to_messages=to_messages, database_url=url, name="booking")
    finally:
        stop.set()
        thread.join(5)
        checkpointer.close()


if __name__ == "__main__":
    main()
