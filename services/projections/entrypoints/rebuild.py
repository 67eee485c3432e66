"""Rebuild read models from history, or check them for drift.

    python -m services.projections.entrypoints.rebuild --view all --from kafka
    python -m services.projections.entrypoints.rebuild --view history --from store
    python -m services.projections.entrypoints.rebuild --view calendar --from kafka --check-drift

--from kafka   a fresh consumer without a group, every partition assigned by
               hand, from the earliest offset to the end offsets
--from store   booking's event feed: GET {BOOKING_PUBLIC_URL}/v1/events?after=&limit=
               with a bearer token of role platform (every organisation's events)
--check-drift  rebuild, compare with the live tables, print the differences and
               exit 1 when there are any (nothing is switched; the live tables
               only get the retention purge, so both sides compare the same day)

The tables are built into a fresh set (`*_rebuild`) while the consumer keeps
running, then switched over in one transaction that holds the consumer's lock
after a last catch-up (application/rebuild.py explains why nothing is lost).
The calendar, appointment list, queue, client and statistics views share the
`appointments` table: rebuilding one of them rebuilds them all.

The standard Kafka-tooling way (the consumer must be stopped meanwhile):
    1. stop the projections consumer(s)
    2. empty the views and the bookkeeping, e.g.
       psql "$PROJECTIONS_DATABASE_URL" -c 'TRUNCATE appointments, status_history,
           organisations, resources, clients, waitlist, applied_events, aggregate_versions'
    3. kafka-consumer-groups.sh --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" \\
           --reset-offsets --to-earliest --group projections \\
           --topic appointments.events --topic directory.events --execute
    4. start the consumer again: it re-applies everything from the earliest offset.
(The bookkeeping must be truncated with the views, or every replayed event is
recognised as a duplicate and skipped.)
"""
from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.projections.adapters.schema import VIEWS
from services.projections.adapters.sources import BookingFeedSource, EventSource, KafkaSource
from services.projections.application.drift import DriftReport
from services.projections.application.rebuild import RebuildReport, rebuild
from services.projections.bootstrap import Settings, wire
from shared import auth, db, logs


def source_for(name: str, settings: Settings) -> EventSource:
    if name == "kafka":
        return KafkaSource(settings.bootstrap_servers, settings.topics)
    token = auth.issue(org=auth.PLATFORM_ORG, roles=[auth.PLATFORM], subject="projections-rebuild")
    return BookingFeedSource(settings.booking_url, token)


def run(settings: Settings, view: str, source: EventSource, check_drift: bool,
        console: Console | None = None) -> int:
    """Rebuild (or check) `view` from `source`; the process exit code."""
    console = console or Console(stderr=True)
    pool = wire(settings).pool
    with Progress(TextColumn(f"rebuilding {view} from {source.name}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("events", total=None)
        try:
            report = rebuild(pool, source, VIEWS[view], settings.clock(),
                             check_drift=check_drift,
                             on_progress=lambda done, total: bar.update(task, completed=done,
                                                                       total=total))
        finally:
            source.close()
    print_report(report, console)
    return 1 if report.drift and report.drift.drifted else 0


def print_report(report: RebuildReport, console: Console) -> None:
    console.print(f"events: {dict(report.outcomes)}; purged beyond retention: {report.purged}")
    for reason, count in report.skipped.most_common():
        console.print(f"[yellow]skipped {count}×[/yellow] {reason}")
    if report.swapped:
        console.print(f"[green]switched over:[/green] {', '.join(report.tables)}")
    if report.drift is not None:
        print_drift(report.drift, console)


def print_drift(drift: DriftReport, console: Console) -> None:
    if not drift.drifted:
        console.print(f"[green]no drift[/green] in {drift.compared} "
                      f"(in flight, not compared: {drift.in_flight})")
        return
    table = Table("table", "key", "difference", "column", "live", "rebuilt", title="drift")
    for d in drift.differences:
        if not d.columns:
            table.add_row(d.table, repr(d.key), d.kind, "", "", "")
        for column, (live, rebuilt) in d.columns.items():
            table.add_row(d.table, repr(d.key), d.kind, column, repr(live), repr(rebuilt))
    console.print(table)
    console.print(f"[red]{len(drift.differences)} difference(s)[/red]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--view", choices=sorted(VIEWS), default="all")
    parser.add_argument("--from", dest="source", choices=["kafka", "store"], default="kafka")
    parser.add_argument("--check-drift", action="store_true")
    args = parser.parse_args(argv)
    logs.setup("projections-rebuild")
    settings = Settings.from_env()
    try:
        return run(settings, args.view, source_for(args.source, settings), args.check_drift)
    finally:
        db.close_pools()


if __name__ == "__main__":
    sys.exit(main())
