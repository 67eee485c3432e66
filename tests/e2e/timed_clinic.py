"""An organisation on the running system (the session's `stack`) for the tests where
time passes for real (issue 11): its settings, an agent and a client per appointment,
and what booking, the notifier and the projections show of one appointment."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from deploy.stack import Stack
from tests.e2e.conftest import Client

SYSTEM = {"id": "system", "role": "system"}
OFFSET = 1                  # minutes before the start: the smallest reminder offset
# Half-hour offsets (a local time is never the UTC one), nine hours apart: one of them
# is always far from its midnight, so every slot below stays within a local day.
ZONES = ("Asia/Kolkata", "America/St_Johns")
ALL_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def zone() -> ZoneInfo:
    return next(ZoneInfo(z) for z in ZONES if 1 <= datetime.now(ZoneInfo(z)).hour < 22)


def now() -> datetime:
    return datetime.now(UTC)


def slot(start: datetime, minutes: int = 30) -> dict[str, str]:
    start = start.replace(microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}


def reminded_in(seconds: int) -> dict[str, str]:
    """A slot whose reminder falls due `seconds` from now."""
    return slot(now() + timedelta(minutes=OFFSET, seconds=seconds))


def due(at: dict[str, str]) -> datetime:
    return datetime.fromisoformat(at["start"]) - timedelta(minutes=OFFSET)


def local_when(at: dict[str, str], tz: ZoneInfo) -> str:
    """The slot as the reminder's subject says it, in the organisation's zone."""
    start, end = (datetime.fromisoformat(at[k]).astimezone(tz) for k in ("start", "end"))
    return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}–{end:%H:%M} {start.tzname()}"


class Clinic:
    """One organisation, over HTTP, with an agent and a client per appointment."""

    def __init__(self, stack: Stack, tz: ZoneInfo) -> None:
        self.org = f"realtime-{uuid.uuid4().hex[:8]}"
        self.http = Client(stack, org=self.org)
        self.stack = stack
        r = self.http.patch("booking", "/v1/organisation", {
            "name": "Realtime Clinic", "timezone": tz.key, "no_show_after_minutes": 0,
            "hold_minutes": 1, "reminders": {"offsets_minutes": [OFFSET],
                                             "channels": ["email", "sms"]}})
        assert r.status_code == 200, r.text
        self.service = self.created("services", {"name": "Consultation"})
        self.count = 0

    def created(self, path: str, body: dict[str, Any]) -> str:
        r = self.http.post("booking", f"/v1/{path}", body)
        assert r.status_code == 201, r.text
        return str(r.json()[path.rstrip("s")]["id"])

    def people(self) -> dict[str, str]:
        """A new agent (working all day, every day) and a new client (each client has
        their own address: the notifier's per-recipient quota is not this test's)."""
        self.count += 1
        n = self.count
        return {"service_id": self.service,
                "agent_id": self.created("resources", {"name": f"Dr {n}", "kind": "agent",
                                                       "working_hours": ALL_DAY}),
                "client_id": self.created("clients", {
                    "name": f"Client {n}", "email": f"client{n}@{self.org}.example",
                    "phone": f"+4179{n:07d}"})}

    def scheduled(self, at: dict[str, str]) -> str:
        r = self.http.post("booking", "/v1/appointments/for_client", {
            **self.people(), "slot": at, "status": "scheduled"})
        assert r.status_code == 201, r.text
        return str(r.json()["appointment"]["id"])

    def act(self, aid: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.http.post("booking", f"/v1/appointments/{aid}/{action}", body or {})
        assert r.status_code == 200, r.text
        return dict(r.json()["appointment"])

    def appointment(self, aid: str) -> dict[str, Any]:
        return dict(self.http.get("booking", f"/v1/appointments/{aid}").json()["appointment"])

    def audit(self, aid: str) -> list[dict[str, Any]]:
        return list(self.http.get("booking", f"/v1/appointments/{aid}/audit").json()["events"])

    def planned(self, aid: str) -> list[str]:
        """The reminders the notifier has planned for the appointment (due times)."""
        r = self.http.get("notifier", "/v1/reminders", params={"appointment_id": aid})
        return [x["due_at"] for x in r.json()["items"]] if r.status_code == 200 else ["?"]

    def reminders(self, aid: str) -> list[dict[str, Any]]:
        """The reminders in the development mailbox, by email and SMS."""
        mail = self.http.get("notifier", "/v1/mailbox",
                             params={"appointment_id": aid, "limit": 50}).json()["items"]
        return [m for m in mail if m["subject"].startswith("Reminder:")
                or (m["channel"] == "sms" and "reminder, your" in m["body_text"])]

    def history_top(self, aid: str) -> dict[str, Any] | None:
        r = self.http.get("projections", f"/v1/appointments/{aid}/history")
        items = r.json().get("items") if r.status_code == 200 else None
        return items[0] if items else None

    def agent_at(self, agent: str, at: dict[str, str]) -> dict[str, Any] | None:
        r = self.http.get("projections", "/v1/availability",
                          params={"at": at["start"], "duration_minutes": 30})
        found = [a for a in r.json()["resources"] if a["id"] == agent] if r.ok else []
        return found[0] if found else None


def reminded(clinic: Clinic, aid: str) -> list[dict[str, Any]] | None:
    sent = clinic.reminders(aid)
    return sent if len(sent) >= 2 else None
