"""The bare endpoint every figure of `make bench` is divided by: Flask and a
psycopg_pool under the same gunicorn settings as the APIs (deploy/gunicorn.conf.py:
same workers, threads and pool size), on the same PostgreSQL, inserting one
row per request. What no design of the system could beat on this machine.

    gunicorn -c deploy/gunicorn.conf.py 'tests.bench.bare:create_app()'  (BARE_DATABASE_URL, PORT)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask, request
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from shared import config

ROOT = Path(__file__).resolve().parents[2]
TABLE = "CREATE TABLE IF NOT EXISTS bare (id bigserial PRIMARY KEY, body jsonb NOT NULL)"


def create_app() -> Flask:
    size = int(config.require("WEB_THREADS"))
    pool = ConnectionPool(os.environ["BARE_DATABASE_URL"], min_size=size, max_size=size, open=True)
    app = Flask(__name__)

    @app.post("/insert")
    def insert() -> tuple[dict[str, Any], int]:
        body = request.get_json()
        with pool.connection() as conn:
            row = conn.execute("INSERT INTO bare (body) VALUES (%s) RETURNING id",
                               [Jsonb(body)]).fetchone()
        assert row
        return {"id": row[0]}, 201

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def start(database_url: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The bare endpoint under gunicorn, its table created first (not raced by workers)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(TABLE)
    env = {**env, "BARE_DATABASE_URL": database_url, "PORT": str(port), "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
             "tests.bench.bare:create_app()"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
