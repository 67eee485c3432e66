"""One description of a change: a stored appointment event -> an audit entry.

Booking's auditor API and the projections' history view both describe events with
`describe`, so the two can never tell an auditor different stories. It reads the
event's `change` (docs/contracts.md), the appointment's state before it (None for the
event that created it) and the state after it, and says who did what, from where,
under which workflow version, and every field it changed with its value before and
after. Internal notes are part of the entry; `for_viewer` leaves them out for anyone
who is not staff.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields of the appointment an event may change, in the order an entry lists them.
FIELDS = ("status", "slot", "window", "proposal", "client", "service", "agent_id",
          "resources", "questionnaire", "metadata", "outcome", "feedback",
          "feedback_requested_on")
# Where a change carries the value before itself (so no earlier state is needed).
PREVIOUS = {"slot": "previous_slot", "agent_id": "previous_agent_id",
            "client": "previous_client"}
STAFF = frozenset({"agent", "manager", "auditor"})
NOTE = "note"


def source_of(actor: Mapping[str, Any], link_id: str | None) -> str:
    """Where a change came from: a signed client link, the system, staff or a machine."""
    role = actor.get("role")
    if link_id or role == "client":
        return "client_link"
    if role == "system":
        return "system"
    if role in ("agent", "manager"):
        return "agent"
    return "api"


def describe(change: Mapping[str, Any], before: Mapping[str, Any] | None,
             after: Mapping[str, Any], *, at: str) -> dict[str, Any]:
    """The audit entry of one event (pure).

    `before`: the appointment's state before the event (None: the event created it);
    `after`: its state after; `at`: the event's time (ISO 8601). States are the
    contract's `appointment` snapshot; only the keys in FIELDS are read, and a key a
    state lacks is taken as unchanged unless the change itself sets it.
    """
    actor = dict(change.get("actor") or {})
    workflow = dict(change.get("workflow") or {})
    link_id = change.get("link_id")
    return {
        "action": change.get("action"),
        "from_status": change.get("from_status"),
        "to_status": change.get("to_status") or after.get("status"),
        "status_kind": change.get("status_kind"),
        "status_name": change.get("status_name"),
        "actor": {"id": actor.get("id"), "role": actor.get("role")},
        "source": source_of(actor, link_id),
        "at": at,
        "reason": change.get("reason"),
        "message": change.get("message"),
        "workflow": {"id": workflow.get("id"), "version": workflow.get("version")},
        "correlation_id": change.get("correlation_id") or None,
        "link_id": link_id,
        "changes": changes(change, before, after),
    }


def changes(change: Mapping[str, Any], before: Mapping[str, Any] | None,
            after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every field the event changed: [{"field", "before", "after"}], FIELDS order,
    then the internal note it added or edited."""
    out = []
    for name in FIELDS:
        if name == "status":
            old, new = change.get("from_status"), change.get("to_status")
        elif before is None:
            old, new = None, after.get(name)
            if new in (None, {}, []):
                continue
        elif name in change or PREVIOUS.get(name, "") in change:
            old = change[PREVIOUS[name]] if PREVIOUS.get(name, "") in change \
                else before.get(name)
            new = change.get(name, after.get(name))
        elif name in before and name in after:
            old, new = before[name], after[name]
        else:
            continue
        if old != new:
            out.append({"field": name, "before": old, "after": new})
    note = change.get(NOTE)
    if isinstance(note, Mapping):
        was = note.get("previous_text")
        out.append({"field": NOTE,
                    "before": None if was is None else {"id": note.get("id"), "text": was},
                    "after": {"id": note.get("id"), "text": note.get("text")}})
    return out


def state_of(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """What a view keeps to describe the next event: the FIELDS of a snapshot, but the
    client (a view keeps the client where it keeps it anyway; a change of client carries
    the one before)."""
    return {k: snapshot[k] for k in FIELDS if k in snapshot and k != "client"}


# The fields of an entry's `changes` that hold what a client is or wrote (erasure blanks them).
PERSONAL = ("client", "questionnaire", "feedback")


def without_personal(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`changes` once the client is erased: the fields holding their data say only that
    they changed (`erased`), not from what to what."""
    return [{"field": c["field"], "before": None, "after": None, "erased": True}
            if c.get("field") in PERSONAL else c for c in changes]


# How to reach a client: what a row shows beside their id and name to those who may see it.
CONTACT = ("email", "phone")


def client_for_viewer(client: Mapping[str, Any], roles: frozenset[str] | set[str],
                      erased: bool = False) -> dict[str, Any]:
    """A client reference as `roles` may see it: the contact fields for staff (who read the
    appointment itself from booking too), for nobody once the client is erased."""
    if erased or not roles & STAFF:
        return {k: v for k, v in client.items() if k not in CONTACT}
    return dict(client)


def for_viewer(entry: Mapping[str, Any], roles: frozenset[str] | set[str]) -> dict[str, Any]:
    """The entry as `roles` may see it: internal notes for staff only."""
    if roles & STAFF:
        return dict(entry)
    return {**entry, "changes": [c for c in entry.get("changes") or []
                                 if c.get("field") != NOTE]}
