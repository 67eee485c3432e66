"""Issue 10 against the system as `make run` starts it: an auditor's export, downloaded
over HTTP or written by the command, verifies offline with only the public key."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deploy.stack import ROOT
from tests.system import Client

pytestmark = pytest.mark.e2e
ORG = "e2e-export"


def audit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "services.booking.audit", *args], env=env,
                          cwd=ROOT, capture_output=True, timeout=120, check=False)


def test_an_export_of_the_running_system_verifies_offline(stack, tmp_path: Path):
    manager = Client(stack, org=ORG)
    for name in ("Export", "Another"):
        r = manager.post("booking", "/v1/services", {"name": name, "duration_minutes": 30})
        assert r.status_code == 201, r.text
    auditor = Client(stack, org=ORG, roles=("auditor",))
    now = datetime.now(UTC)
    period = {"from": (now - timedelta(hours=1)).isoformat(),
              "to": (now + timedelta(hours=1)).isoformat()}
    key = tmp_path / "checkpoints.pub.pem"
    key.write_text(auditor.get("booking", "/v1/audit/public_key").json()["public_key_pem"])
    downloaded = tmp_path / "export.jsonl"
    with auditor.get("booking", "/v1/audit/export", params=period, stream=True) as r:
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-ndjson"
        with downloaded.open("wb") as out:
            for chunk in r.iter_content(65536):
                out.write(chunk)
    # Offline: no database, no broker, no signing key; only the public key
    offline = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    done = audit(offline, "verify", "--export", str(downloaded), "--public-key", str(key))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(b"verified: 3 events of organisation e2e-export")
    # The command beside the system writes one that verifies the same way
    written = audit(stack.env(), "export", "--organisation", ORG, "--from", period["from"],
                    "--to", period["to"], "--format", "csv")
    assert written.returncode == 0, written.stderr
    (tmp_path / "export.csv").write_bytes(written.stdout)
    done = audit(offline, "verify", "--export", str(tmp_path / "export.csv"), "--public-key",
                 str(key))
    assert done.returncode == 0, done.stdout + done.stderr
