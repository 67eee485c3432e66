"""Rows -> API shapes."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from services.projections.domain.timing import zone
from shared.domain.lifecycle import builtin_status
from shared.history import client_for_viewer


def appointment(row: dict[str, Any], roles: frozenset[str] | set[str]) -> dict[str, Any]:
    """A row as `roles` may see it (the client's contact: shared.history.client_for_viewer)."""
    fallback = builtin_status(row["workflow_id"], row["status"])
    client = {"id": row["client_id"], "name": row["client_name"],
              "email": row["client_email"], "phone": row["client_phone"]}
    out = {
        "id": row["id"], "version": row["version"], "status": row["status"],
        "status_kind": row["status_kind"],
        # Events recorded before they carried name and colour: the built-in lifecycle's
        "status_name": row["status_name"] or (fallback.name if fallback else row["status"]),
        "status_colour": row["status_colour"] or (fallback.colour if fallback else None),
        "requested": row["unconfirmed"], "tentative": row["tentative"],
        "workflow": {"id": row["workflow_id"], "version": row["workflow_version"]},
        "service": {"id": row["service_id"], "name": row["service_name"]},
        "client": client_for_viewer(client, roles, row["client_erased"]),
        "agent_id": row["agent_id"], "resources": row["resources"],
        "slot": {"start": row["slot_start"].isoformat(), "end": row["slot_end"].isoformat()}
        if row["slot_start"] else None,
        "window": {"date": row["window_date"].isoformat(), "part_of_day": row["window_part"]}
        if row["window_date"] else None,
        "start": row["start_at"], "end": row["end_at"], "proposal": row["proposal"],
        "source": row["source"], "outcome": row["outcome"], "feedback": row["feedback"],
        "requested_at": row["requested_at"], "confirmed_at": row["confirmed_at"],
        "updated_at": row["updated_at"],
    }
    if "past" in row:
        out["past"] = row["past"]
    return out


def history_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"version": row["version"], "action": row["action"],
            "from_status": row["from_status"], "to_status": row["to_status"],
            "status_kind": row["status_kind"],
            "actor": {"id": row["actor_id"], "role": row["actor_role"]},
            "reason": row["reason"], "message": row["message"], "at": row["at"],
            "workflow": {"id": row["workflow_id"], "version": row["workflow_version"]},
            "correlation_id": row["correlation_id"], "source": row["source"],
            "link_id": row["link_id"], "changes": row["changes"]}


def bounds(start: date | datetime | None, end: date | datetime | None, tz: str
           ) -> tuple[datetime | None, datetime | None]:
    """Query bounds as UTC moments: a date is a local day (end date inclusive)."""
    z = zone(tz)

    def moment(value: date | datetime | None, inclusive_end: bool) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        day = value + timedelta(days=1) if inclusive_end else value
        return datetime.combine(day, time.min, z)

    return moment(start, False), moment(end, True)


def waitlist_entry(row: dict[str, Any]) -> dict[str, Any]:
    offer = {"slot": {"start": row["offer_start"].isoformat(),
                      "end": row["offer_end"].isoformat()},
             "agent_id": row["offer_agent_id"], "until": row["offer_until"]} \
        if row["status"] == "offered" else None
    return {"id": row["id"], "version": row["version"], "status": row["status"],
            "service": {"id": row["service_id"], "name": row["service_name"]},
            "client": {"id": row["client_id"], "name": row["client_name"],
                       "tentative": row["tentative"]},
            "agent_id": row["agent_id"], "date": row["wish_date"],
            "part_of_day": row["part_of_day"], "source": row["source"], "offer": offer,
            "appointment_id": row["appointment_id"], "joined_at": row["joined_at"],
            "updated_at": row["updated_at"]}
