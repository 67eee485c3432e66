"""The booking relay process: `python -m services.booking.entrypoints.relay`.

Follows booking's notification log (the outbox) and publishes each event to
`appointments.events` or `directory.events` (see adapters/cloudevents.py)."""
from __future__ import annotations

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from shared import config, logs
from shared.relay import run


def main() -> None:
    logs.setup("booking-relay")
    run(application=bootstrap.booking(), to_messages=to_messages,
        database_url=config.database_url("booking"), name="booking")


if __name__ == "__main__":
    main()
