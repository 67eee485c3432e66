"""wrk, the load generator of `make bench`: a C event loop that keeps 16
connections busy with a fraction of a core, where Python `requests` was itself
the bottleneck (issue 13). Bodies come from a Lua script rendered here; wrk's
own CPU is measured around each run (getrusage of the child) and reported.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

# Lua shared by every script: a counter unique across wrk's threads, and done()
# printing one JSON line the harness parses (latency in microseconds).
PRELUDE = """
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
i = 0
refused = {}
function response(status, headers, body)
  if status > 299 then
    local key = tostring(status)
    refused[key] = (refused[key] or 0) + 1
    -- the first answer of each refused kind, for the log (wrk's stderr)
    if refused[key] == 1 then io.stderr:write(key .. " " .. body:sub(1, 300) .. "\\n") end
  end
end
function next_n()
  i = i + 1
  return i * NTHREADS + tid
end
function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%S+00:00", t)
end
-- PACE_MS > 0: each connection waits that long between an answer and its next
-- request (a paced run at a chosen fraction of the peak rate).
function delay()
  return PACE_MS
end
function done(summary, latency, requests)
  local e = summary.errors
  local merged, codes = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("refused") or {}) do merged[k] = (merged[k] or 0) + v end
  end
  for k, v in pairs(merged) do codes[#codes + 1] = string.format('"%s": %d', k, v) end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"socket_errors": %d, "status_errors": %d, "refused": {%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, table.concat(codes, ", ")))
end
"""

NEW_REQUEST = """
function request()
  local n = next_n()
  local body = string.format('{"service_id": "%s", "source": "widget", '
    .. '"window": {"date": "%s", "part_of_day": "morning"}, '
    .. '"client": {"name": "Client %d", "email": "c%d-%s@example.com", "phone": "+4179%07d"}}',
    SERVICE, os.date("!%Y-%m-%d", 1893456000 + (n % 3000) * 86400), n, n, RUN, n % 10000000)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = AUTH,
                   ["Idempotency-Key"] = RUN .. "-" .. n}
  return wrk.format("POST", PATH, headers, body)
end
"""

# Round robin over this thread's share of the pre-created (confirmed) appointments:
# a thread's in-flight requests are consecutive, so two never hit one appointment.
RESCHEDULE = """
function request()
  local n = next_n()
  if mine == nil then
    mine = {}
    for k = tid + 1, #IDS, NTHREADS do mine[#mine + 1] = IDS[k] end
  end
  local id = mine[(i % #mine) + 1]
  -- A slot never used before (OFFSET moves on per script): the same slot again would be refused.
  local start = 1893456000 + (OFFSET + n) * 1800
  local body = string.format('{"slot": {"start": "%s", "end": "%s"}, "message": "bench"}',
    iso(start), iso(start + 1800))
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = AUTH,
                   ["Idempotency-Key"] = RUN .. "-" .. n}
  return wrk.format("POST", "/v1/appointments/" .. id .. "/reschedule", headers, body)
end
"""


def ensure() -> str:
    """wrk's path; installed with apt-get when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get)...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("make bench needs wrk: apt-get install wrk (or brew install wrk)")
    return found


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII is a valid Lua string literal


def script(body: str, threads: int, **values: Any) -> str:
    """A complete Lua script: globals, the prelude, the request function
    (PACE_MS: the pause of each connection between an answer and its next request)."""
    lines = [f"NTHREADS = {threads}", f"PACE_MS = {int(values.pop('PACE_MS', 0))}"]
    for name, value in values.items():
        if isinstance(value, int):
            lines.append(f"{name} = {value}")
        elif isinstance(value, list):
            lines.append(f"{name} = {{{', '.join(lua_string(v) for v in value)}}}")
        else:
            lines.append(f"{name} = {lua_string(str(value))}")
    return "\n".join(lines) + PRELUDE + body


def parse(stdout: str) -> dict[str, float]:
    """The figures of one run from wrk's output (the line done() printed)."""
    line = next(x for x in stdout.splitlines() if x.startswith("BENCH "))
    raw = json.loads(line[len("BENCH "):])
    seconds = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["status_errors"]
    figures = {"per_s": ok / seconds if seconds else 0.0, "p50_ms": raw["p50_us"] / 1000,
               "p99_ms": raw["p99_us"] / 1000, "requests": raw["requests"],
               "errors": raw["status_errors"] + raw["socket_errors"]}
    figures.update({f"http_{code}": n for code, n in sorted(raw.get("refused", {}).items())})
    return figures


def run(base_url: str, lua: str, connections: int, seconds: float) -> dict[str, float]:
    """One wrk run; its figures plus the generator's CPU (cores used on average)."""
    threads = min(2, connections)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(
            [ensure(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", f.name, base_url],
            capture_output=True, text=True, check=True)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        Path(f.name).unlink()
    figures = parse(done.stdout)
    if done.stderr.strip():
        print("    refused: " + done.stderr.strip().replace("\n", "\n    refused: "), flush=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures["generator_cpu"] = cpu / wall
    return figures
