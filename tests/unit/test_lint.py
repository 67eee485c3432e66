"""The code stays linted (ruff) and type-checked (mypy), as pyproject.toml configures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ruff_finds_nothing():
    result = run(str(BIN / "ruff"), "check", "--no-cache", "shared", "services", "tests", "deploy")
    assert result.returncode == 0, result.stdout


def test_mypy_finds_nothing():
    result = run(str(BIN / "mypy"), "--cache-dir=/dev/null")
    assert result.returncode == 0, result.stdout
