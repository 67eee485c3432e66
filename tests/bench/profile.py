"""`make profile`: where booking's wall time goes on the command path under load.

py-spy (the `bench` extra) samples booking's gunicorn workers, waiting included
(--idle), while wrk sends new requests (or, with PROFILE_COMMAND=status, status
changes) from 16 clients with the relays and consumers stopped. Printed: the
functions under the most request samples (inclusive, % of the samples inside a
request); written: the collapsed stacks, for speedscope or flamegraph.pl.

    make profile                         # 20 s; PROFILE_SECONDS to change
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.bench import commands, report, wrk
from tests.bench.harness import System

REQUEST_FRAME = "full_dispatch_request"  # Flask: the samples of a thread serving a request
TOP = 30


def inclusive(collapsed: str) -> tuple[Counter[str], int]:
    """Samples per function (file and name, any line) among stacks serving a request."""
    per_function: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if REQUEST_FRAME not in stack or not count.isdigit():
            continue
        total += int(count)
        frames = {re.sub(r":\d+\)$", ")", f.strip()) for f in stack.split(";")}
        for frame in frames:
            per_function[frame] += int(count)
    return per_function, total


def main() -> None:
    seconds = float(os.environ.get("PROFILE_SECONDS", "20"))
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    system = System()
    try:
        system.start()
        ids = system.pool(64)
        system.pause_pipeline()
        which = "status change" if os.environ.get("PROFILE_COMMAND") == "status" else "new request"
        lua = commands.scripts(system, ids, 2)[which][0]
        report.RESULTS.mkdir(parents=True, exist_ok=True)
        out = report.RESULTS / f"profile-{time.strftime('%Y%m%dT%H%M%S')}.txt"
        master = system.stack.processes["booking"].process.pid
        spy_run = subprocess.Popen([spy, "record", "--pid", str(master), "--subprocesses", "--idle",
                                    "--rate", "50", "--duration", str(int(seconds)), "--format", "raw",
                                    "--output", str(out), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # py-spy attached
        figures = wrk.run(system.url("booking"), lua, 16, seconds - 2)
        spy_run.wait(60)
    finally:
        system.stop()
    per_function, total = inclusive(out.read_text())
    print(f"{which}, 16 clients, command path alone: {figures['per_s']:.0f}/s, "
          f"p50 {figures['p50_ms']:.0f} ms; {total} samples inside requests")
    for frame, count in per_function.most_common(TOP):
        print(f"{100 * count / total:6.1f} %  {frame}")
    print(f"collapsed stacks: {out}")


if __name__ == "__main__":
    main()
