"""What grows with the data: a command on an appointment with 10, 100 and
1,000 events; a view rebuilt from the broker beside a raw scan of booking's
events plus an INSERT of as many rows; the resident memory of every process.
"""
from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from typing import Any

import psutil
import psycopg

from deploy.stack import ROOT
from tests.bench.harness import System, _iso

EVENTS_TABLE = "bookingapplication_events"  # services/booking/adapters/pg_store.py


def grown(system: System, events: int) -> str:
    """A confirmed appointment with `events` events (notes added one by one)."""
    appointment = system.confirmed(10_000 + events)
    version = 2
    while version < events:
        version = system.post(f"/v1/appointments/{appointment}/notes",
                              {"text": f"note {version}"})["version"]
    return appointment


def per_command(system: System, sizes: tuple[int, ...], samples: int) -> dict[str, dict[str, Any]]:
    """p50 of a reschedule, one client, on appointments of each size; the first
    size is the reference the others are compared with."""
    out: dict[str, dict[str, Any]] = {}
    first = 0.0
    for size in sizes:
        appointment = grown(system, size)
        took = []
        for k in range(samples):
            start = 1_990_000_000 + (size * samples + k) * 3600
            t = time.perf_counter()
            system.post(f"/v1/appointments/{appointment}/reschedule",
                        {"slot": {"start": _iso(start), "end": _iso(start + 1800)}})
            took.append(time.perf_counter() - t)
        p50 = 1000 * statistics.median(took)
        first = first or p50
        out[f"reschedule, appointment of {size} events"] = {
            "p50_ms": p50, "p99_ms": 1000 * max(took), "vs_first": round(p50 / first, 2)}
    return out


def rebuild(system: System) -> dict[str, dict[str, Any]]:
    """The projections' rebuild from the broker (every view), events/s, beside
    SELECT of booking's events and INSERT of as many rows into a scratch table."""
    env = system.stack.env()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "services.projections.entrypoints.rebuild",
                           "--view", "all", "--from", "kafka"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    counts = re.search(r"events: \{([^}]*)\}", done.stderr + done.stdout)
    events = sum(int(n) for n in re.findall(r": (\d+)", counts.group(1))) if counts else 0
    assert system.stack.infra
    owner = system.stack.infra.owner_urls["booking"]
    started = time.monotonic()
    with psycopg.connect(owner) as source, psycopg.connect(system.bare_database) as target:
        rows = source.execute(f"SELECT originator_id, originator_version, topic, state "  # noqa: S608
                              f"FROM {EVENTS_TABLE} ORDER BY notification_id").fetchall()
        target.execute("CREATE TABLE IF NOT EXISTS raw_copy (originator_id uuid, version bigint, "
                       "topic text, state bytea)")
        with target.cursor() as cur:
            cur.executemany("INSERT INTO raw_copy VALUES (%s, %s, %s, %s)", rows)
    raw = len(rows) / (time.monotonic() - started)
    per_s = events / took if took else 0.0
    return {"view rebuild from the broker (all views)": {
        "per_s": per_s, "bare_per_s": raw, "ratio": per_s / raw if raw else 0.0,
        "events": events, "seconds": round(took, 1), "exit": done.returncode}}


def memory(system: System) -> dict[str, dict[str, Any]]:
    """Resident memory (RSS) of every process: the largest one of each part."""
    parts: dict[str, list[psutil.Process]] = {}
    for name, running in system.stack.processes.items():
        parts[name] = _tree(running.process.pid)
    assert system.stack.infra
    if system.stack.infra.broker and system.stack.infra.broker.process:
        parts["broker"] = _tree(system.stack.infra.broker.process.pid)
    if system.stack.infra.postgres and (pid := system.stack.infra.postgres.pid()):
        parts["postgres"] = _tree(pid)
    parts["bare endpoint"] = _tree(system.bare.pid)
    out = {}
    for name, processes in parts.items():
        sizes = []
        for p in processes:
            try:
                sizes.append(p.memory_info().rss / 2**20)
            except psutil.Error:
                pass
        if sizes:
            out[f"memory: {name}"] = {"max_mb": round(max(sizes), 1), "processes": len(sizes),
                                      "total_mb": round(sum(sizes), 1)}
    return out


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
