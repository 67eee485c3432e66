"""Commands over HTTP under wrk: a new request and a status change (reschedule
of a confirmed appointment), at 1 and 16 clients, each run right after the
bare endpoint with the same clients, duration and body, so each figure is also
a ratio measured minutes apart on the same machine.
"""
from __future__ import annotations

import itertools
import uuid
from typing import Any

from tests.bench import wrk
from tests.bench.harness import System

CLIENTS = (1, 16)
_offsets = itertools.count(0, 100_000)  # slots of one script: 100,000 half hours of their own


def scripts(system: System, ids: list[str], threads: int,
            pace_ms: int = 0) -> dict[str, tuple[str, str]]:
    """Each command's Lua script, for the system and for the bare endpoint
    (`pace_ms`: each connection's pause between an answer and its next request)."""
    common = {"AUTH": f"Bearer {system.token}", "SERVICE": system.service_id, "PACE_MS": pace_ms}
    # RUN prefixes the Idempotency-Keys: a key reused by another command would be a conflict.
    new = wrk.script(wrk.NEW_REQUEST, threads, PATH="/v1/appointments",
                     RUN=uuid.uuid4().hex[:8], **common)
    bare_new = wrk.script(wrk.NEW_REQUEST, threads, PATH="/insert", RUN=uuid.uuid4().hex[:8], **common)
    change = wrk.script(wrk.RESCHEDULE, threads, IDS=ids, OFFSET=next(_offsets),
                        RUN=uuid.uuid4().hex[:8], **common)
    # The bare endpoint gets the same reschedule body on its one path.
    bare_change = change.replace('"/v1/appointments/" .. id .. "/reschedule"', '"/insert"')
    return {"new request": (new, bare_new), "status change": (change, bare_change)}


def measure(system: System, ids: list[str], mode: str, seconds: float,
            idle: bool) -> dict[str, dict[str, Any]]:
    """Every command at every client count, bare then system; `idle`: the
    pipeline has drained before each system run (seconds it took are recorded)."""
    results: dict[str, dict[str, Any]] = {}
    for clients in CLIENTS:
        for command, (lua, bare_lua) in scripts(system, ids, min(2, clients)).items():
            bare = wrk.run(system.bare_url, bare_lua, clients, seconds)
            drained = system.drain() if idle else None
            row = wrk.run(system.url("booking"), lua, clients, seconds)
            row["bare_per_s"] = bare["per_s"]
            row["ratio"] = row["per_s"] / bare["per_s"] if bare["per_s"] else 0.0
            row["bare_p50_ms"], row["bare_p99_ms"] = bare["p50_ms"], bare["p99_ms"]
            if drained is not None:
                row["drained_before_s"] = round(drained, 1)
            results[f"{command}, {clients} client{'s' if clients > 1 else ''}, {mode}"] = row
            print(f"  {command}, {clients} clients, {mode}: {row['per_s']:.0f}/s "
                  f"(bare {bare['per_s']:.0f}/s)", flush=True)
    return results


def at_half_peak(system: System, ids: list[str], peaks: dict[str, dict[str, Any]],
                 seconds: float) -> dict[str, dict[str, Any]]:
    """Each command at about half its 16-client peak of `peaks` (command path): the
    16 connections pause between an answer and the next request so that
    16 / (latency + pause) is half the peak; the rate reached is reported beside p99."""
    results: dict[str, dict[str, Any]] = {}
    clients = max(CLIENTS)
    for command in ("new request", "status change"):
        peak = peaks.get(f"{command}, {clients} clients, command path", {})
        alone = peaks.get(f"{command}, 1 client, command path", {})
        if not peak.get("per_s"):
            continue
        target = peak["per_s"] / 2
        pace = max(0, round(1000 * clients / target - alone.get("p50_ms", 0.0)))
        lua = scripts(system, ids, 2, pace_ms=pace)[command][0]
        row = wrk.run(system.url("booking"), lua, clients, seconds)
        row.update(target_per_s=round(target, 1), pause_ms=pace)
        results[f"{command} at half the peak, command path"] = row
        print(f"  {command} at half the peak ({target:.0f}/s): {row['per_s']:.0f}/s, "
              f"p99 {row['p99_ms']:.0f} ms", flush=True)
    return results
