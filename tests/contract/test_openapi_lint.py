"""Spectral's recommended OpenAPI rules over the four documents the running system
serves: 0 errors and 0 warnings (offline: Spectral is installed by `make install`
into tools/, the documents come from the services themselves)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from deploy.stack import APIS, Stack

ROOT = Path(__file__).resolve().parents[2]
SPECTRAL = ROOT / "tools" / "node_modules" / ".bin" / "spectral"
RULESET = ROOT / "tools" / "spectral.yaml"


@pytest.mark.parametrize("service", APIS)
def test_the_openapi_document_passes_spectrals_recommended_rules(stack: Stack, service: str,
                                                                 tmp_path: Path) -> None:
    assert SPECTRAL.exists(), "Spectral is missing: run `make install` (npm ci in tools/)"
    document = requests.get(f"{stack.url(service)}/openapi.json", timeout=10).json()
    path = tmp_path / f"{service}.json"
    path.write_text(json.dumps(document, indent=1))
    run = subprocess.run([str(SPECTRAL), "lint", "--ruleset", str(RULESET), "--format", "json",
                          "--fail-severity", "hint", "--quiet", str(path)],
                         capture_output=True, text=True, timeout=120)
    findings = json.loads(run.stdout or "[]")
    assert findings == [], "\n".join(
        f"{f['code']}: {f['message']} at {'.'.join(map(str, f['path']))}" for f in findings)
    assert run.returncode == 0, run.stderr
