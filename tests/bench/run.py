"""`make bench`: figures for the hot paths, each beside a baseline measured
in the same run on the same machine, and beside the previous run if any.

- HTTP: booking's appointment request vs its /healthz (gunicorn + Flask floor).
- Pipeline: request -> visible in the projections queue and in the notifier's
  ledger, for a burst of requests.
- Kafka: relay throughput (events/s from the store to the broker) vs a bare
  acks=all producer sending the same number of messages of the same size.
Results go to .data/bench/last.json; the previous file is shown side by side.
"""
from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from deploy.stack import APIS, Stack
from shared import auth, kafka
from shared.devinfra import infra as infra_module

N_SEQUENTIAL = 200
N_BURST = 300
THREADS = 4
RESULTS = Path(".data/bench")


def timed(call: Callable[[], Any], n: int, threads: int = 1) -> dict[str, float]:
    latencies: list[float] = []

    def one(_: int) -> None:
        t = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"per_s": n / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(0.95 * (n - 1))]}


def setup(stack: Stack, session: requests.Session) -> str:
    booking = stack.url("booking")
    service = session.post(f"{booking}/v1/services", json={
        "name": "Consultation", "duration_minutes": 30, "confirmation_mode": "manual"}, timeout=10)
    service.raise_for_status()
    return service.json()["service"]["id"] if "service" in service.json() else service.json()["id"]


def request_body(service_id: str, i: int) -> dict[str, Any]:
    return {"service_id": service_id, "source": "widget",
            "window": {"date": "2030-01-15", "part_of_day": "morning"},
            "client": {"name": f"Client {i}", "email": f"c{i}@example.com",
                       "phone": f"+4179{i % 10_000_000:07d}"}}


def run() -> dict[str, dict[str, float]]:
    ports = {service: infra_module.free_port() for service in APIS}
    data_dir = Path(tempfile.mkdtemp(prefix="appt-bench-"))
    # One token sends 700 writes as fast as it can: the limits count them but never refuse.
    stack = Stack(data_dir, ports=ports, kafka_port=infra_module.free_port(),
                  extra_env={"RATE_LIMIT_PER_TOKEN": "1000000/minute",
                             "RATE_LIMIT_PER_IP": "1000000/minute"})
    stack.start()
    results: dict[str, dict[str, float]] = {}
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {auth.issue('bench', ['agent', 'manager'])}"
        service_id = setup(stack, session)
        booking, projections = stack.url("booking"), stack.url("projections")
        counter = iter(range(10**9))

        def request() -> dict[str, Any]:
            r = session.post(f"{booking}/v1/appointments",
                             json=request_body(service_id, next(counter)), timeout=10)
            r.raise_for_status()
            return r.json()

        results["baseline: GET /healthz"] = timed(
            lambda: session.get(f"{booking}/healthz", timeout=10).raise_for_status(), N_SEQUENTIAL)
        results["POST /v1/appointments (1 client)"] = timed(request, N_SEQUENTIAL)
        results[f"POST /v1/appointments ({THREADS} clients)"] = timed(request, N_SEQUENTIAL, THREADS)

        start = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(lambda _: request(), range(N_BURST)))
        last = max(a["position"] for a in answers)
        session.get(f"{projections}/v1/queue", params={"min_position": last, "limit": 1},
                    timeout=60).raise_for_status()
        elapsed = time.perf_counter() - start
        results[f"burst of {N_BURST}: request -> in queue"] = {"per_s": N_BURST / elapsed}

        results.update(kafka_baseline(stack, count=N_BURST + 2 * N_SEQUENTIAL))
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def kafka_baseline(stack: Stack, count: int) -> dict[str, dict[str, float]]:
    assert stack.infra
    bootstrap = stack.infra.kafka_bootstrap_servers
    kafka.ensure_topics(bootstrap, ["bench.baseline"])
    producer = kafka.producer(bootstrap)
    payload = b"x" * 2500  # about the size of an appointment CloudEvent
    start = time.perf_counter()
    futures = [producer.send("bench.baseline", key=str(i % 50).encode(), value=payload)
               for i in range(count)]
    producer.flush()
    for f in futures:
        f.get(timeout=10)
    elapsed = time.perf_counter() - start
    producer.close()
    return {f"baseline: bare producer, {count} msgs": {"per_s": count / elapsed}}


def show(now: dict[str, dict[str, float]], before: dict[str, dict[str, float]] | None) -> None:
    def cell(r: dict[str, float], key: str) -> str:
        return f"{r[key]:>10.1f}" if key in r else f"{'-':>10}"

    print(f"{'measure':<44}{'per s':>10}{'p50 ms':>10}{'p95 ms':>10}"
          + ("   previous run: per s" if before else ""))
    for name, r in now.items():
        line = f"{name:<44}{cell(r, 'per_s')}{cell(r, 'p50_ms')}{cell(r, 'p95_ms')}"
        if before and name in before:
            line += f"   {before[name]['per_s']:>10.1f}"
        print(line)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    last = RESULTS / "last.json"
    before = json.loads(last.read_text()) if last.exists() else None
    now = run()
    show(now, before)
    last.write_text(json.dumps(now, indent=2))


if __name__ == "__main__":
    main()
