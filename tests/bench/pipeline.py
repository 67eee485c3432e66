"""The pipeline behind booking: how long a command takes to show in the
projections' queue and in the notifier's mailbox at a steady rate, and the
highest rate the relay, projections and notifier keep up with.

A steady rate needs a paced sender, which wrk (closed loop, as fast as it can)
is not; at these rates (tens per second) a thread pool of `requests` is far
from its limit, and its own CPU is reported like wrk's.
"""
from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import psycopg
import requests

from tests.bench.harness import System

GRACE = 15.0  # seconds the paced sender waits for answers after its last command was due
CATCH_UP = 5.0  # seconds after the last command within which a pipeline that keeps up has applied it


@dataclass
class Sent:
    appointment_id: str
    position: int
    at: float  # wall clock when the command was sent


@dataclass
class Paced:
    sent: list[Sent] = field(default_factory=list)
    failures: int = 0
    dropped: int = 0  # never sent: the system answered too slowly for the rate
    seconds: float = 0.0
    cpu: float = 0.0  # cores this process used meanwhile (sender and probes)
    to_queue: list[float] = field(default_factory=list)


def paced(system: System, rate: float, seconds: float, probe_queue: bool = False) -> Paced:
    """New requests at `rate` per second for `seconds`; with `probe_queue`, a
    probe takes the newest command again and again and waits (min_position) for
    it in the queue: each probe is one command -> queue sample."""
    out = Paced()
    local = threading.local()
    lock = threading.Lock()
    running = True

    def send(n: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers.update(system.session.headers)
        at = time.time()
        try:
            r = local.session.post(system.url("booking") + "/v1/appointments", timeout=30, json={
                "service_id": system.service_id, "source": "widget",
                "window": {"date": "2032-01-15", "part_of_day": "morning"},
                "client": {"name": f"Paced {n}", "email": f"p{n}-{at}@example.com",
                           "phone": f"+4177{n % 10_000_000:07d}"}})
            r.raise_for_status()
            answer = r.json()
            with lock:
                out.sent.append(Sent(answer["appointment"]["id"], answer["position"], at))
        except requests.RequestException:
            with lock:
                out.failures += 1

    def probe() -> None:
        session = requests.Session()
        session.headers.update(system.session.headers)
        while running:
            with lock:
                newest = max(out.sent, key=lambda s: s.position, default=None)
            if newest is None:
                time.sleep(0.05)
                continue
            r = session.get(system.url("projections") + "/v1/queue", timeout=30,
                            params={"min_position": newest.position, "limit": 1})
            if r.status_code == 200:
                out.to_queue.append(time.time() - newest.at)
            time.sleep(0.1)

    prober = threading.Thread(target=probe, daemon=True) if probe_queue else None
    if prober:
        prober.start()
    cpu, started = time.process_time(), time.monotonic()
    pool = ThreadPoolExecutor(32)
    futures = []
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        futures.append(pool.submit(send, n))
    # A system far slower than the rate would keep the sender going for minutes:
    # what has not started GRACE s after the last command was due is dropped.
    wait(futures, timeout=GRACE)
    pool.shutdown(wait=True, cancel_futures=True)
    out.dropped = sum(f.cancelled() for f in futures)
    out.seconds = time.monotonic() - started
    running = False
    if prober:
        prober.join(35)
    out.cpu = (time.process_time() - cpu) / out.seconds
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "samples": len(ordered)}


def mailbox_times(system: System, sent: list[Sent], timeout: float = 120.0) -> list[float]:
    """Command -> first message in the development mailbox, for every command
    (the mailbox row's created_at, the same clock as the sender's)."""
    assert system.stack.infra
    url = system.stack.infra.database_urls["notifier"]
    ids = [s.appointment_id for s in sent]
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            rows = conn.execute("SELECT appointment_id, min(created_at) FROM mailbox "
                                "WHERE appointment_id = ANY(%s) GROUP BY 1", [ids]).fetchall()
            if len(rows) == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    first = {a: t.timestamp() for a, t in rows}
    return [first[s.appointment_id] - s.at for s in sent if s.appointment_id in first]


def latency(system: System, rate: float, seconds: float) -> dict[str, dict[str, Any]]:
    run = paced(system, rate, seconds, probe_queue=True)
    to_mailbox = mailbox_times(system, run.sent)
    common = {"per_s": len(run.sent) / run.seconds, "generator_cpu": run.cpu,
              "failures": run.failures, "dropped": run.dropped}
    return {f"command -> queue at {rate:.0f}/s": {**common, **percentiles(run.to_queue)},
            f"command -> mailbox at {rate:.0f}/s": {
                **common, **percentiles(to_mailbox),
                "missing": len(run.sent) - len(to_mailbox)}}


def keeps_up(system: System, rate: float, seconds: float) -> dict[str, Any]:
    """Send at `rate` for `seconds`, then: how long until the last command is applied?"""
    run = paced(system, rate, seconds)
    started = time.monotonic()
    last = max((s.position for s in run.sent), default=0)
    try:
        system.wait_applied(last, timeout=120)  # far behind: not kept up, whatever the figure
    except TimeoutError:
        pass
    behind = time.monotonic() - started
    return {"rate": rate, "per_s": len(run.sent) / run.seconds, "behind_after_s": round(behind, 1),
            "kept_up": behind <= CATCH_UP and run.failures == 0 and run.dropped == 0,
            "generator_cpu": run.cpu}


def sustained(system: System, estimate: float, seconds: float, tries: int) -> dict[str, Any]:
    """The highest tried rate the pipeline keeps up with for `seconds` (lag
    bounded: the last command applied within CATCH_UP s of the end); the tries
    start above the backlog catch-up `estimate` and step down by 40 %."""
    rate, tried, best = max(2.0, round(estimate * 1.25)), [], 0.0
    for _ in range(tries):
        result = keeps_up(system, rate, seconds)
        tried.append(result)
        print(f"  sustained {rate:.0f}/s for {seconds:.0f} s: behind {result['behind_after_s']} s",
              flush=True)
        if result["kept_up"]:
            best = result["per_s"]
            break
        system.drain()
        rate = max(1.0, round(rate * 0.6))
    return {"per_s": best, "tries": " ".join(
        f"{t['rate']:.0f}/s:{'ok' if t['kept_up'] else 'behind ' + str(t['behind_after_s']) + 's'}"
        for t in tried), "seconds": seconds}
