"""Issue 10 against the system as `make run` starts it: booking runs as a role that
cannot change events, the relay signs checkpoints, and `verify` checks the store."""
from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from deploy.stack import ROOT
from tests.e2e.conftest import Client
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def verify(stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.booking.audit", "verify", *args],
                          env=stack.env(), cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_running_system_verifies_and_its_events_cannot_be_changed_by_its_role(stack):
    manager = Client(stack, org="e2e-audit")
    created = manager.post("booking", "/v1/services", {"name": "Audit", "duration_minutes": 30})
    assert created.status_code == 201, created.text
    position = created.json()["position"]
    # The relay signs the organisation's new head within its interval (1 s here)

    def checkpointed() -> bool:
        done = verify(stack, "--organisation", "e2e-audit")
        return done.returncode == 0 and "0 signed checkpoint" not in done.stdout

    wait_until(checkpointed, timeout=60, interval=1, what="a signed checkpoint that verifies")
    done = verify(stack)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("verified: ") and len(done.stdout.splitlines()) == 1
    # booking's own role may not rewrite what it stored
    with psycopg.connect(stack.env()["BOOKING_DATABASE_URL"]) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE bookingapplication_events SET state = state WHERE notification_id = %s",
                     (position,))
