"""Booking unit tier: the domain and the application over the in-memory store.

No I/O: the workflow authority is `LocalWorkflow` (shared.domain.lifecycle in-process)
and time is a `FixedClock` the test moves.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from booking_unit_support import NOW

from services.booking import bootstrap
from services.booking.application.app import BookingApplication, Caller
from tests.doubles.booking import FixedClock, LocalWorkflow


@dataclass
class Directory:
    service: str
    automatic_service: str
    agent: str
    other_agent: str
    client: str
    location: str


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def workflow() -> LocalWorkflow:
    return LocalWorkflow()


@pytest.fixture
def booking(clock: FixedClock, workflow: LocalWorkflow) -> Iterator[BookingApplication]:
    app = bootstrap.wire(bootstrap.Settings(memory=True, clock=clock, workflow=workflow)).application
    yield app
    app.close()


@pytest.fixture
def manager() -> Caller:
    return Caller("acme", {"id": "mgr-1", "role": "manager"}, "corr-1")


@pytest.fixture
def agent() -> Caller:
    return Caller("acme", {"id": "agent-7", "role": "agent"}, "corr-2")


@pytest.fixture
def directory(booking: BookingApplication, manager: Caller) -> Directory:
    def add(entry: str, **fields: Any) -> str:
        return str(booking.register(manager, entry, fields)[entry]["id"])

    return Directory(
        service=add("service", name="Consultation", duration_minutes=30),
        automatic_service=add("service", name="Quick check", duration_minutes=15,
                              confirmation_mode="automatic"),
        agent=add("resource", name="Dr Who", kind="agent", email="who@acme.example"),
        other_agent=add("resource", name="Dr Watson", kind="agent"),
        client=add("client", name="Ada Lovelace", email="ada@example.com", phone="+441234567890"),
        location=add("resource", name="Main branch", kind="location", address="1 High St"),
    )
