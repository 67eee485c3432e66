"""`make bench` stays importable and its report format stable (no load is run here)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import tests.bench.run as bench
from tests.bench import commands, report, wrk

NOW = {
    "new request, 16 clients, command path": {
        "per_s": 210.4, "p50_ms": 71.0, "p99_ms": 180.5, "bare_per_s": 1600.0, "ratio": 0.1315,
        "generator_cpu": 0.12, "requests": 2104, "errors": 0},
    "command -> mailbox at 50/s": {"per_s": 49.8, "p50_ms": 420.0, "p99_ms": 910.0, "samples": 1500},
    "memory: booking": {"max_mb": 81.5, "processes": 3, "total_mb": 190.0},
}
BEFORE = {"new request, 16 clients, command path": {"per_s": 180.0, "ratio": 0.11}}


def test_the_table_shows_every_measure_with_its_ratio_and_the_previous_run() -> None:
    lines = report.table(NOW, BEFORE).splitlines()
    assert lines[0].split() == ["measure", "per", "s", "p50", "ms", "p99", "ms", "bare/s", "ratio",
                                "gen", "cpu", "prev/s", "prev", "%", "other"]
    row = next(line for line in lines if line.startswith("new request, 16 clients"))
    assert row[report.NAME_WIDTH:].split()[:8] == [
        "210.4", "71.0", "180.5", "1600.0", "13%", "0.12", "180.0", "11%"]
    assert row.endswith("requests=2104 errors=0")
    mailbox = next(line for line in lines if line.startswith("command -> mailbox"))
    assert "bare" not in mailbox
    assert mailbox[report.NAME_WIDTH:].split()[:4] == ["49.8", "420.0", "910.0", "-"]
    assert next(line for line in lines if line.startswith("memory: booking")).endswith(
        "max_mb=81.5 processes=3 total_mb=190")


def test_a_run_is_saved_under_its_time_and_is_the_next_runs_previous(tmp_path: Path) -> None:
    (tmp_path / "last.json").write_text("{}")  # the former format, never taken for a run
    assert report.previous(tmp_path) is None
    first = report.save({"started": "2026-11-30T17:00:00Z", "results": BEFORE}, tmp_path)
    second = report.save({"started": "2026-11-30T17:20:00Z", "results": NOW}, tmp_path)
    assert (first.name, second.name) == ("20261130T170000Z.json", "20261130T172000Z.json")
    assert report.previous(tmp_path) == json.loads(second.read_text())


def test_wrk_figures_are_read_from_the_line_the_script_prints() -> None:
    out = ("Running 10s test @ http://127.0.0.1:8001\n"
           'BENCH {"requests": 1010, "duration_us": 10000000, "p50_us": 7600, "p99_us": 26000, '
           '"socket_errors": 0, "status_errors": 10, "refused": {"409": 4, "503": 6}}\n')
    assert wrk.parse(out) == {"per_s": 100.0, "p50_ms": 7.6, "p99_ms": 26.0, "requests": 1010,
                              "errors": 10, "http_409": 4, "http_503": 6}


def test_scripts_carry_their_values_as_lua_globals() -> None:
    lua = wrk.script(wrk.RESCHEDULE, 2, IDS=["a", "b"], OFFSET=100_000, AUTH="Bearer x.y")
    assert lua.startswith('NTHREADS = 2\nPACE_MS = 0\nIDS = {"a", "b"}\nOFFSET = 100000\n'
                          'AUTH = "Bearer x.y"\n')
    assert "function done(" in lua and "function request()" in lua


def test_a_paced_script_pauses_each_connection_between_requests() -> None:
    lua = wrk.script(wrk.NEW_REQUEST, 2, PACE_MS=37, PATH="/v1/appointments")
    assert "PACE_MS = 37\n" in lua and "function delay()\n  return PACE_MS" in lua


def test_no_two_commands_share_idempotency_keys_or_slots() -> None:
    """A key reused by another command is refused (409): half the status changes once were."""
    system = SimpleNamespace(token="t", service_id="s")
    first = commands.scripts(system, ["a", "b"], 2)  # type: ignore[arg-type]
    second = commands.scripts(system, ["a", "b"], 2)  # type: ignore[arg-type]
    scripts = [lua for pair in (*first.values(), *second.values()) for lua in pair]
    runs = [re.search(r'^RUN = "(\w+)"$', lua, re.M) for lua in scripts]
    system_runs = [m.group(1) for m, lua in zip(runs, scripts, strict=True)
                   if m and "/insert" not in lua]
    assert len(system_runs) == 4 and len(set(system_runs)) == 4
    offsets = [re.search(r"^OFFSET = (\d+)$", pair[0], re.M) for pair in (first["status change"],
                                                                      second["status change"])]
    assert offsets[0] and offsets[1] and offsets[0].group(1) != offsets[1].group(1)


def test_the_quick_mode_is_seconds_and_the_full_run_the_issues_scenarios(monkeypatch) -> None:
    monkeypatch.setenv("BENCH_QUICK", "1")
    assert bench.plan() is bench.QUICK and bench.QUICK.seconds <= 3
    monkeypatch.delenv("BENCH_QUICK")
    full = bench.plan()
    assert full.sizes == (10, 100, 1000) and full.latency_rate == 50
    assert full.sustained_seconds == 60


def test_the_readme_table_is_made_from_a_run() -> None:
    lines = report.markdown({"results": NOW}).splitlines()
    assert lines[0] == ("| measure | per s | p50 ms | p99 ms | bare per s | ratio "
                        "| load generator's CPU (cores) | other |")
    assert lines[2] == ("| new request, 16 clients, command path | 210.4 | 71.0 | 180.5 | 1600.0 | 13% "
                        "| 0.12 | requests=2104 errors=0 |")
    assert lines[4] == "| memory: booking | – | – | – | – | – | – | max_mb=81.5 processes=3 total_mb=190 |"


def test_half_the_peak_paces_sixteen_connections_to_half_the_measured_rate(monkeypatch) -> None:
    """16 / (latency + pause) = half the peak: 200/s peak, 5 ms alone -> 155 ms pause."""
    sent: list[str] = []

    def fake_run(url: str, lua: str, connections: int, seconds: float) -> dict[str, float]:
        sent.append(lua)
        return {"per_s": 99.0, "p50_ms": 6.0, "p99_ms": 20.0}
    monkeypatch.setattr(wrk, "run", fake_run)
    system = SimpleNamespace(token="t", service_id="s", url=lambda service: "http://booking")
    peaks = {"new request, 16 clients, command path": {"per_s": 200.0},
             "new request, 1 client, command path": {"p50_ms": 5.0}}
    rows = commands.at_half_peak(system, ["a"], peaks, 1)  # type: ignore[arg-type]
    assert list(rows) == ["new request at half the peak, command path"]  # no status peak: skipped
    assert rows["new request at half the peak, command path"]["target_per_s"] == 100.0
    assert re.search(r"^PACE_MS = 155$", sent[0], re.M)
