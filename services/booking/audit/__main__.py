"""`python -m services.booking.audit verify [--organisation X]`: check booking's event
store against its hash chain and the signed checkpoints on `audit.checkpoints`.

Exit 0 and a one-line summary when everything verifies; otherwise one line per
problem (the first altered, removed, inserted or reordered event of each
organisation, by position) and exit 1. Reads only: any role that may SELECT works.

`... verify --export FILE` checks an export offline (no database, no broker): only
the public key. `... export --organisation X --from T --to T [--format csv] > FILE`
writes one (export.py), signed with the checkpoint key.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from services.booking.adapters.pg_store import EVENTS_TABLE
from services.booking.audit import checkpoints, export, keys
from services.booking.audit.export_verify import verify_export
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
    check.add_argument("--export", type=Path, metavar="FILE",
                       help="check this export offline instead (needs only the public key)")
    out = sub.add_parser("export", help="write an organisation's events of a period to stdout")
    out.add_argument("--organisation", required=True)
    out.add_argument("--from", dest="start", required=True, type=instant,
                     help="ISO 8601 instant with its offset")
    out.add_argument("--to", dest="end", required=True, type=instant,
                     help=f"ISO 8601 instant, at most {export.MAX_PERIOD.days} days after --from")
    out.add_argument("--format", choices=sorted(export.FORMATS), default="jsonl")
    args = parser.parse_args(argv)
    if args.command == "export":
        return write_export(parser, args)
    if args.export:
        outcome = verify_export(args.export, keys.public_key(args.public_key))
        print("\n".join(outcome.problems) if outcome.problems else outcome.summary)
        return 0 if outcome.clean else 1
    report = run(config.database_url("booking"), config.require("KAFKA_BOOTSTRAP_SERVERS"),
                 args.organisation, args.public_key, args.topic)
    for problem in report.problems:
        print(problem)
    print(report.summary())
    return 0 if report.clean else 1


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the instant with its offset (+00:00)")
    return moment


def write_export(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if why := export.check_period(args.start, args.end):
        parser.error(f"--to: {why}")
    with psycopg.connect(config.database_url("booking"), autocommit=True) as conn:
        @contextmanager
        def connect() -> Iterator[psycopg.Connection[Any]]:
            yield conn

        for chunk in export.stream(connect, args.organisation, args.start, args.end,
                                   args.format, keys.signing_key(), lambda: datetime.now(UTC)):
            sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
