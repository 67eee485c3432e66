"""`make bench`'s results: one JSON file per run under .data/bench/, and the
table printed beside the previous run's figures.

A run is {"started", "quick", "machine", "results": {measure: {column: value}}};
the columns a measure may have are COLUMNS, anything else is printed after them.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(".data/bench")
# column key -> (header, width, format)
COLUMNS = {
    "per_s": ("per s", 9, "{:.1f}"),
    "p50_ms": ("p50 ms", 8, "{:.1f}"),
    "p99_ms": ("p99 ms", 8, "{:.1f}"),
    "bare_per_s": ("bare/s", 9, "{:.1f}"),
    "ratio": ("ratio", 7, "{:.0%}"),
    "generator_cpu": ("gen cpu", 8, "{:.2f}"),
}
NAME_WIDTH = 50
Results = dict[str, dict[str, Any]]


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "system": platform.platform(),
            "python": platform.python_version(), "load_before": list(os.getloadavg())}


def cell(key: str, value: Any) -> str:
    header, width, fmt = COLUMNS[key]
    if not isinstance(value, int | float):
        return f"{'-':>{width}}"
    return f"{fmt.format(value):>{width}}"


def extra(row: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    return " ".join(f"{k}={show(v)}" for k, v in row.items() if k not in COLUMNS)


def table(now: Results, before: Results | None) -> str:
    """The printed table: every measure with its columns, the previous run's
    per s and ratio beside it, the other figures (key=value) at the end."""
    head = f"{'measure':<{NAME_WIDTH}}" + "".join(f"{h:>{w}}" for h, w, _ in COLUMNS.values())
    head += f"{'prev/s':>9}{'prev %':>8}  other"
    lines = [head, "-" * len(head)]
    for name, row in now.items():
        line = f"{name[:NAME_WIDTH]:<{NAME_WIDTH}}"
        line += "".join(cell(key, row.get(key)) for key in COLUMNS)
        old = (before or {}).get(name, {})
        line += cell("per_s", old.get("per_s")) + cell("ratio", old.get("ratio")).rjust(8)
        lines.append(f"{line}  {extra(row)}".rstrip())
    return "\n".join(lines)


def previous(folder: Path = RESULTS) -> dict[str, Any] | None:
    """The newest earlier run, if any."""
    runs = sorted(folder.glob("[0-9]*.json"))  # not the old last.json
    return json.loads(runs[-1].read_text()) if runs else None


def save(run: dict[str, Any], folder: Path = RESULTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run['started'].replace(':', '').replace('-', '')}.json"
    path.write_text(json.dumps(run, indent=2))
    return path


def markdown(run: dict[str, Any]) -> str:
    """A run as the README's table: `python -m tests.bench.report [file]`."""
    def fmt(row: dict[str, Any], key: str) -> str:
        value = row.get(key)
        return COLUMNS[key][2].format(value) if isinstance(value, int | float) else "–"

    lines = ["| measure | per s | p50 ms | p99 ms | bare per s | ratio | load generator's CPU "
             "(cores) | other |", "|---|---|---|---|---|---|---|---|"]
    for name, row in run["results"].items():
        other = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                         if k not in COLUMNS and not k.startswith("bare_p"))
        lines.append(f"| {name} | {fmt(row, 'per_s')} | {fmt(row, 'p50_ms')} | {fmt(row, 'p99_ms')} "
                     f"| {fmt(row, 'bare_per_s')} | {fmt(row, 'ratio')} "
                     f"| {fmt(row, 'generator_cpu')} | {other} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    chosen = json.loads(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else previous()
    print(markdown(chosen) if chosen else "no run yet: make bench")
