"""The waitlist in the projections: booking's own waitlist events (PostgreSQL, its timer
worker run once with the clock moved) reach the views through the broker. The waitlist
view lists the entries in join order with their open offer; the availability shows an
offered slot held by the entry until the offer lapses, is accepted or the entry leaves;
an erased client's entries lose the name; a rebuild gives the same rows."""
from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from rich.console import Console

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import timers as booking_timers
from services.booking.application.waitlist_commands import offer_link_subject
from services.booking.entrypoints.http import create_app as booking_app
from services.projections.adapters.schema import LIVE as LIVE_TABLES
from services.projections.application.apply import APPLIED, apply_event
from services.projections.bootstrap import wire
from services.projections.domain.model import Unprocessable
from services.projections.entrypoints import rebuild as command
from services.projections.entrypoints.http import create_app
from shared import auth, links
from shared.envelope import CloudEvent
from shared.timers import TimerWorker
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.doubles.projections import ListSource
from tests.integration.projections.support import applied_count, publish, running, wait_until
from tests.unit.projections.factory import Booking as Script

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def _headers(roles: tuple[str, ...] = ("agent",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.issue('acme', list(roles), 'agent-7')}"}


def _slot(hour: int) -> dict[str, str]:
    start = MONDAY + timedelta(hours=hour)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}


def _at(hour: int) -> str:
    return (MONDAY + timedelta(hours=hour, minutes=10)).isoformat().replace("+", "%2B")


class Booking:
    """Booking on its own database, its web API and timer worker; `publish` sends what it
    recorded since the last call to the broker, as its relay would, and waits until the
    projections applied it."""

    def __init__(self, infra: Any, settings: Any) -> None:
        self.url = infra.database(f"t_waitlist_view_booking_{os.getpid()}")
        self.clock = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
        self.app = bootstrap.wire(bootstrap.Settings(
            database_url=self.url, clock=self.clock, workflow=LocalWorkflow())).application
        self.web = booking_app(self.app).test_client()
        self.settings, self.after = settings, 0       # the last position sent
        self.events: list[CloudEvent] = []

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             roles: tuple[str, ...] = ("manager",)) -> Any:
        r = self.web.open(path, method=method, json=body if body is not None else {},
                          headers=_headers(roles))
        assert r.status_code in (200, 201), r.get_json()
        return r.get_json()

    def fire_due(self) -> int:
        with ConnectionPool(self.url, min_size=1, max_size=2, open=True) as pool:
            return TimerWorker(pool, booking_timers.TABLE, booking_timers.handlers(self.app),
                               now=self.clock.now).run_due()

    def publish(self, count: int | None = None) -> list[CloudEvent]:
        """Send the next `count` recorded events (None: all of them)."""
        new = [ce for _, _, ce in to_messages(self.app, self.app.notifications(
            self.after, count or 1000))]
        publish(self.settings, new)
        self.after = new[-1].position
        self.events += new
        total = len(self.events)
        wait_until(lambda: applied_count(self.settings) == total, what="every event applied")
        return new


def _listed(api: Any, query: str = "") -> list[dict[str, Any]]:
    r = api.get(f"/v1/waitlist{query}", headers=_headers())
    assert r.status_code == 200, r.get_json()
    return list(r.get_json()["items"])


def _held(api: Any, hour: int) -> tuple[list[str], list[str]]:
    r = api.get(f"/v1/availability?at={_at(hour)}", headers=_headers())
    assert r.status_code == 200, r.get_json()
    [agent] = r.get_json()["resources"]
    return agent["busy_with"], agent["held_by"]


def test_the_waitlist_and_its_offers_in_the_views(settings, infra):
    b = Booking(infra, settings)
    service = b.call("POST", "/v1/services", {"name": "Consultation"})["service"]["id"]
    who = b.call("POST", "/v1/resources", {"name": "Dr Who", "kind": "agent"})["resource"]["id"]
    ada = b.call("POST", "/v1/clients", {"name": "Ada", "email": "ada@example.com"})
    ada_id = ada["client"]["id"]
    booked = {hour: b.call("POST", "/v1/appointments/for_client", {
        "service_id": service, "client_id": ada_id, "agent_id": who, "status": "scheduled",
        "slot": _slot(hour)})["appointment"]["id"] for hour in (9, 11)}

    def join(**body: Any) -> str:
        b.clock.advance(timedelta(minutes=1))     # clients join one after the other
        return str(b.call("POST", "/v1/waitlist", {"service_id": service, **body},
                          roles=("agent",))["entry"]["id"])

    first = join(client_id=ada_id)
    grace = join(client={"name": "Grace", "email": "grace@example.com"}, source="widget")
    picky = join(client_id=ada_id, part_of_day="afternoon")      # 09:00 and 11:00 are not
    api = create_app(settings).test_client()
    with running(settings):
        # Joined: listed, waiting, in join order; nothing held
        b.publish()
        listed = _listed(api)
        assert [(e["id"], e["status"], e["offer"]) for e in listed] == [
            (first, "waiting", None), (grace, "waiting", None), (picky, "waiting", None)]
        assert (listed[0]["client"], listed[1]["client"]) == (
            {"id": ada_id, "name": "Ada", "tentative": False},
            {"id": None, "name": "Grace", "tentative": True})
        assert (listed[0]["service"], listed[2]["part_of_day"]) == (
            {"id": service, "name": "Consultation"}, "afternoon")
        assert _held(api, 9) == ([booked[9]], [])

        # Offered: the freed 09:00 is held by the first entry, listed with its offer
        b.call("POST", f"/v1/appointments/{booked[9]}/cancel")
        assert b.fire_due() == 1
        b.publish()
        assert _held(api, 9) == ([first], [first])
        [offered] = _listed(api, "?status=offered")
        until = (b.clock.now() + timedelta(minutes=15)).isoformat()
        assert (offered["id"], offered["offer"]) == (first, {
            "slot": _slot(9), "agent_id": who, "until": until})

        # Lapsed: waiting again and the slot free; then it goes to the next in line
        b.clock.advance(timedelta(minutes=15))
        assert b.fire_due() == 2                 # the lapse, then the offer to Grace
        [lapse] = b.publish(1)
        assert lapse.type == "waitlist.offer_lapsed.v1"
        assert [(e["status"], e["offer"]) for e in _listed(api)][0] == ("waiting", None)
        assert _held(api, 9) == ([], [])
        b.publish()
        assert _held(api, 9) == ([grace], [grace])

        # Accepted: the entry names the request it made, which holds the slot instead
        number = b.app.waitlist_entry("acme", uuid.UUID(grace)).offers
        token = links.sign(offer_link_subject(grace, number), "accept_offer")
        made = b.call("POST", f"/v1/client_actions/accept_offer?token={token}")
        b.publish()
        accepted = {e["id"]: e for e in _listed(api)}[grace]
        assert (accepted["status"], accepted["offer"], accepted["appointment_id"]) == (
            "accepted", None, made["appointment"]["id"])
        assert _held(api, 9) == ([made["appointment"]["id"]], [made["appointment"]["id"]])

        # Left while offered: the slot is free again (no one else wants 11:00)
        b.call("POST", f"/v1/appointments/{booked[11]}/cancel")
        assert b.fire_due() == 1
        b.publish()
        assert _held(api, 11) == ([first], [first])
        b.call("DELETE", f"/v1/waitlist/{first}")
        b.fire_due()
        b.publish()
        assert _held(api, 11) == ([], [])
        assert [(e["id"], e["status"]) for e in _listed(api)] == [
            (first, "left"), (grace, "accepted"), (picky, "waiting")]

        # Filters, and pages of two give every row once, in join order
        assert [e["id"] for e in _listed(api, "?status=waiting,left")] == [first, picky]
        assert _listed(api, f"?service_id={service}&status=waiting") == _listed(
            api, "?status=waiting")
        assert _listed(api, "?service_id=other") == []
        pages, cursor = [], ""
        while True:
            r = api.get(f"/v1/waitlist?limit=2{cursor}", headers=_headers()).get_json()
            pages.append([e["id"] for e in r["items"]])
            if r["next_cursor"] is None:
                break
            cursor = f"&cursor={r['next_cursor']}"
        assert pages == [[first, grace], [picky]]

        # Erasure: Ada's entries lose her name, Grace's keeps hers
        b.call("POST", f"/v1/clients/{ada_id}/erase")
        b.publish()
        names = {e["id"]: e["client"]["name"] for e in _listed(api)}
        assert names == {first: "erased", grace: "Grace", picky: "erased"}
    b.app.close()

    # A rebuild from the same events finds no drift, and gives the same rows
    def rows() -> list[tuple[Any, ...]]:
        with psycopg.connect(settings.database_url) as conn:
            return conn.execute("SELECT * FROM waitlist ORDER BY joined_at, id").fetchall()

    before = rows()
    console = Console(file=io.StringIO(), width=250)
    assert command.run(settings, "waitlist", ListSource(b.events), True, console) == 0
    assert command.run(settings, "all", ListSource(b.events), False, console) == 0
    assert rows() == before and len(before) == 3
    # A database that took waitlist events as nothing (before this view): its bookkeeping
    # says applied, the view is empty; one rebuild of the view fills it (README)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("DELETE FROM waitlist")
    assert command.run(settings, "waitlist", ListSource(b.events), False, console) == 0
    assert rows() == before


def test_the_waitlist_is_for_staff_and_names_a_bad_parameter(settings):
    api = create_app(settings).test_client()
    for outsider in ("widget", "service"):
        assert api.get("/v1/waitlist", headers=_headers((outsider,))).status_code == 403
    for query, field in (("status=gone", "status"), ("limit=0", "limit"),
                         ("limit=201", "limit"), ("cursor=abc", "cursor"),
                         ("service_id=" + "x" * 101, "service_id"), ("sort=id", "sort")):
        r = api.get(f"/v1/waitlist?{query}", headers=_headers())
        assert r.status_code == 422, (query, r.get_json())
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert {k.split(".")[0] for k in r.get_json()["errors"]} == {field}, r.get_json()


def _entry(b: Any, eid: str, status: str = "waiting", offer: Any = None,
           client_id: str | None = "client-1") -> CloudEvent:
    snap = {"id": eid, "organisation_id": "acme", "version": b.versions.get(eid, 0) + 1,
            "status": status, "service": {"id": "svc-consult", "name": "Consultation"},
            "client": {"id": client_id, "name": "Ada", "email": None, "phone": None},
            "agent_id": None, "date": None, "part_of_day": None, "source": "api",
            "offer": offer, "appointment_id": None, "joined_at": MONDAY.isoformat(),
            "updated_at": MONDAY.isoformat()}
    action = {"waiting": "joined", "offered": "offered"}[status]
    return b.emit(eid, f"waitlist.{action}.v1", {"change": {"action": action}, "waitlist": snap})


def test_an_entry_that_arrives_after_its_clients_erasure_shows_them_erased(settings):
    pool, b = wire(settings).pool, Script()
    erased = b.emit("client-1", "client.erased.v1", {
        "change": {"action": "erased", "appointment_ids": []},
        "client": {"id": "client-1", "organisation_id": "acme", "name": "erased",
                   "email": None, "phone": None, "active": False, "erased": True}})
    assert apply_event(pool, LIVE_TABLES, erased) == APPLIED
    assert apply_event(pool, LIVE_TABLES, _entry(b, "entry-1")) == APPLIED
    offer = {"slot": _slot(9), "agent_id": "agent-7", "until": MONDAY.isoformat()}
    assert apply_event(pool, LIVE_TABLES, _entry(b, "entry-1", "offered", offer)) == APPLIED
    api = create_app(settings).test_client()
    [shown] = _listed(api)
    assert (shown["client"]["name"], shown["offer"]["slot"]) == ("erased", _slot(9))
    # An entry offered without an offer is not applied (dead-lettered): nothing written
    with pytest.raises(Unprocessable, match="offer"):
        apply_event(pool, LIVE_TABLES, _entry(b, "entry-2", "offered", None))
    assert [e["id"] for e in _listed(api)] == ["entry-1"]
