"""Booking's timer worker: `python -m services.booking.entrypoints.timers`.

Its own process under `make run` (deploy/stack.py, `booking-timers`), so a halted
relay or a restarting API never stops time, and the supervisor restarts it alone.
Every BOOKING_TIMERS_INTERVAL_SECONDS it fires the due rows of `booking_timers`
(shared/timers.py: any number of these processes may run) as booking commands by
the system actor (application/timers.py).

`... timers rebuild` writes the table anew from the events (run it with booking's
processes stopped, like a migration); `... timers run-once` fires what is due and
exits; `... timers list` prints what is planned.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from psycopg_pool import ConnectionPool

from services.booking import bootstrap
from services.booking.application import timers as booking_timers
from shared import logs, timers

log = logging.getLogger(__name__)


def worker(pool: ConnectionPool) -> timers.TimerWorker:
    app = bootstrap.parts().application
    return timers.TimerWorker(pool, booking_timers.TABLE, booking_timers.handlers(app),
                              now=app.clock.now)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.booking.entrypoints.timers")
    parser.add_argument("command", nargs="?", default="run",
                        choices=["run", "run-once", "rebuild", "list"])
    args = parser.parse_args(argv)
    logs.setup("booking-timers")
    settings = bootstrap.Settings.from_env()  # `list` needs no application
    with timers.claim_pool(settings.database_url) as pool:
        if args.command == "rebuild":
            with pool.connection() as conn:
                count = booking_timers.rebuild(bootstrap.parts().application, conn)
            print(json.dumps({"planned": count}))
        elif args.command == "list":
            with pool.connection() as conn:
                for t in timers.pending(conn, booking_timers.TABLE):
                    print(json.dumps({"key": t.key, "kind": t.kind, "due_at": t.due_at.isoformat(),
                                      "attempts": t.attempts}))
        elif args.command == "run-once":
            print(json.dumps({"fired": worker(pool).run_due()}))
        else:
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            interval = settings.timers_interval
            log.info("timer worker started", extra={"fields": {"interval": interval}})
            worker(pool).loop(stop, interval)
            log.info("timer worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
