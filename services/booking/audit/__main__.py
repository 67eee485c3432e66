"""`python -m services.booking.audit verify [--organisation X]`: check booking's event
store against its hash chain and the signed checkpoints on `audit.checkpoints`.

Exit 0 and a one-line summary when everything verifies; otherwise one line per
problem (the first altered, removed, inserted or reordered event of each
organisation, by position) and exit 1. Reads only: any role that may SELECT works.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg
from psycopg.sql import SQL, Identifier

from services.booking.adapters.pg_store import EVENTS_TABLE
from services.booking.audit import checkpoints, keys
from services.booking.audit.verify import Problem, Report, verify
from shared import config


def run(database_url: str, bootstrap_servers: str, organisation: str | None = None,
        public_key: Path | None = None, topic: str = checkpoints.TOPIC) -> Report:
    key = keys.public_key(public_key)
    signed, forged = [], []
    for value in checkpoints.read_topic(bootstrap_servers, topic):
        try:
            signed.append(checkpoints.read_message(value, key))
        except checkpoints.ForgedCheckpoint as error:
            forged.append(Problem(0, "checkpoint", f"refused: {error}"))
    events = SQL("{}.{}").format(*(Identifier(part) for part in EVENTS_TABLE))
    with psycopg.connect(database_url) as conn, conn.cursor() as curs:
        return verify(curs, events, signed, organisation, forged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.booking.audit")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="walk the hash chain and the signed checkpoints")
    check.add_argument("--organisation", help="only this organisation's chain")
    check.add_argument("--public-key", type=Path,
                       help="PEM public key of the checkpoints (default: AUDIT_PUBLIC_KEY)")
    check.add_argument("--topic", default=checkpoints.TOPIC, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    report = run(config.database_url("booking"), config.require("KAFKA_BOOTSTRAP_SERVERS"),
                 args.organisation, args.public_key, args.topic)
    for problem in report.problems:
        print(problem)
    print(report.summary())
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
