"""Remove past appointments beyond their organisation's retention period.

    python -m services.projections.entrypoints.purge [--now 2026-11-23T00:00:00Z]

The consumer does the same every `purge_interval` seconds.
"""
from __future__ import annotations

import argparse
from datetime import datetime

from services.projections.application.purge import purge
from services.projections.bootstrap import Settings, wire
from shared import db, logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Purge read models beyond retention")
    parser.add_argument("--now", type=datetime.fromisoformat, default=None,
                        help="the clock (ISO 8601 with offset); default: now")
    args = parser.parse_args(argv)
    logs.setup("projections-purge")
    settings = Settings.from_env()
    try:
        gone = purge(wire(settings).pool, args.now or settings.clock())
        print(f"purged {gone} appointment(s) beyond retention")
        return 0
    finally:
        db.close_pools()


if __name__ == "__main__":
    raise SystemExit(main())
