"""`make bench`: the system as `make run` starts it, measured with wrk beside a
bare Flask + psycopg_pool endpoint on the same PostgreSQL in the same run
(tests/bench/bare.py), so every throughput is also a ratio to what this
machine can do at all. Scenarios (issue 13):

1. new request and status change (reschedule), 1 and 16 clients, whole system
   (the pipeline drained before each run) and command path alone (relays and
   consumers stopped): req/s, p50, p99, bare req/s, ratio, wrk's CPU; then each
   command path at about half its 16-client peak: the p99 there;
2. the backlog of (1) caught up when the pipeline starts again: events/s;
3. command -> queue and command -> mailbox at 50 commands/s, p50 / p99;
4. sustained pipeline throughput: the highest rate with lag bounded over 60 s;
5. view rebuild events/s beside a raw SELECT + INSERT of booking's events;
6. per-command cost on appointments of 10, 100 and 1,000 events (pipeline stopped);
7. resident memory of every process.

Results: .data/bench/<timestamp>.json, printed beside the previous run.
BENCH_QUICK=1: seconds per scenario, for development (figures are rough).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.bench import commands, pipeline, report, store, wrk
from tests.bench.harness import System


@dataclass(frozen=True)
class Plan:
    seconds: float  # each wrk run
    pool: int  # confirmed appointments the status changes go round
    latency_rate: float
    latency_seconds: float
    sustained_seconds: float
    sustained_tries: int
    sizes: tuple[int, ...]
    samples: int


FULL = Plan(seconds=10, pool=100, latency_rate=50, latency_seconds=20, sustained_seconds=60,
            sustained_tries=2, sizes=(10, 100, 1000), samples=30)
QUICK = Plan(seconds=2, pool=48, latency_rate=50, latency_seconds=4, sustained_seconds=5,
             sustained_tries=1, sizes=(10, 100), samples=10)


def plan() -> Plan:
    return QUICK if os.environ.get("BENCH_QUICK") == "1" else FULL


def phase(title: str, results: dict[str, Any], step: Callable[[], dict[str, Any]]) -> None:
    print(f"{title}...", flush=True)
    started = time.monotonic()
    try:
        results.update(step())
    except Exception as e:  # noqa: BLE001 - one broken scenario must not lose the others' figures
        results[f"{title}: failed"] = {"error": repr(e)[:200]}
    print(f"  ({time.monotonic() - started:.0f} s)", flush=True)


def catch_up(system: System, events: int, commands: int) -> dict[str, dict[str, Any]]:
    """The pipeline started again after the command path's runs: events (and
    commands) per second through relay, projections and notifier until both
    hold the last one; the processes' start and group join included."""
    seconds = system.drain()
    return {"pipeline catch-up of the backlog": {
        "per_s": events / seconds, "events": events, "commands": commands,
        "seconds": round(seconds, 1), "commands_per_s": commands / seconds}}


def run(p: Plan) -> dict[str, dict[str, Any]]:
    wrk.ensure()
    system = System()
    results: dict[str, dict[str, Any]] = {}
    try:
        print("starting the system and the bare endpoint...", flush=True)
        system.start()
        ids = system.pool(p.pool)
        phase("whole system", results, lambda: commands.measure(
            system, ids, "whole system", p.seconds, idle=True))
        system.pause_pipeline()
        paused_at = system.new_request(1)["position"]
        phase("command path alone", results, lambda: commands.measure(
            system, ids, "command path", p.seconds, idle=False))
        phase("half the peak", results, lambda: commands.at_half_peak(
            system, ids, results, p.seconds))
        events = system.new_request(2)["position"] - paused_at  # written meanwhile
        sent = sum(r.get("requests", 0) - r.get("errors", 0)
                   for k, r in results.items() if k.endswith("command path"))
        system.resume_pipeline()
        phase("backlog catch-up", results, lambda: catch_up(system, events, sent))
        estimate = results.get("pipeline catch-up of the backlog", {}).get("commands_per_s", 20.0)
        phase("pipeline latency", results, lambda: pipeline.latency(
            system, p.latency_rate, p.latency_seconds))
        phase("sustained pipeline", results, lambda: {"sustained pipeline throughput": pipeline.sustained(
            system, estimate, p.sustained_seconds, p.sustained_tries)})
        phase("view rebuild", results, lambda: store.rebuild(system))
        phase("memory", results, lambda: store.memory(system))
        system.pause_pipeline()  # the last phase: nothing needs to catch up after it
        phase("per-command cost", results, lambda: store.per_command(system, p.sizes, p.samples))
    finally:
        system.stop()
    return results


def main() -> None:
    p = plan()
    before = report.previous()
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    machine = report.machine()
    clock = time.monotonic()
    results = run(p)
    current = {"started": started, "quick": p is QUICK, "machine": machine,
               "generator": "wrk (HTTP scenarios); paced requests threads (pipeline scenarios)",
               "minutes": round((time.monotonic() - clock) / 60, 1), "results": results}
    path = report.save(current)
    print()
    print(report.table(results, before["results"] if before else None))
    if before:
        print(f"\nprevious run: {before['started']}{' (quick)' if before.get('quick') else ''}")
    print(f"results: {path}  ({current['minutes']} min)")


if __name__ == "__main__":
    main()
