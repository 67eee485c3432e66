"""Booking integration tier: the Flask app on a real PostgreSQL database.

The app is built through the one wiring place with the test's database URL
(set as BOOKING_DATABASE_URL before building), a clock the test moves and an
in-process workflow authority (or a real HTTP one where the test says so).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from booking_http_support import NOW, Api
from flask import Flask

from services.booking import bootstrap
from services.booking.application.app import BookingApplication
from services.booking.entrypoints.http import create_app
from tests.doubles.booking import FixedClock, LocalWorkflow


@dataclass
class Seed:
    service: str
    automatic_service: str
    agent: str
    other_agent: str
    client: str


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def workflow() -> LocalWorkflow:
    return LocalWorkflow()


@pytest.fixture
def booking(fresh_db: str, monkeypatch: pytest.MonkeyPatch, clock: FixedClock,
            workflow: LocalWorkflow) -> Iterator[BookingApplication]:
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    application = bootstrap.wire(bootstrap.Settings.from_env(clock=clock, workflow=workflow)).application
    yield application
    application.close()


@pytest.fixture
def flask_app(booking: BookingApplication) -> Flask:
    return create_app(booking)


@pytest.fixture
def api(flask_app: Flask) -> Api:
    """An agent of acme."""
    return Api(flask_app.test_client())


@pytest.fixture
def manager(api: Api) -> Api:
    return api.as_(roles=("manager",))


@pytest.fixture
def seed(manager: Api) -> Seed:
    def add(path: str, body: dict[str, Any]) -> str:
        r = manager.post(path, body)
        assert r.status_code == 201, r.get_json()
        kind = path.rstrip("s").rsplit("/", 1)[-1]
        return str(r.get_json()[kind]["id"])

    return Seed(
        service=add("/v1/services", {"name": "Consultation", "duration_minutes": 30}),
        automatic_service=add("/v1/services", {"name": "Quick check", "duration_minutes": 15,
                                               "confirmation_mode": "automatic"}),
        agent=add("/v1/resources", {"name": "Dr Who", "kind": "agent",
                                    "email": "who@acme.example"}),
        other_agent=add("/v1/resources", {"name": "Dr Watson", "kind": "agent"}),
        client=add("/v1/clients", {"name": "Ada Lovelace", "email": "ada@example.com",
                                   "phone": "+441234567890"}),
    )
