"""Where a client's personal data sits in booking's events, and what shows once erased.

Personal data (sealed with the subject's key when stored, adapters/sealing.py):
- a client's name, email and phone: `initial.client`, `change.client`,
  `change.previous_client` of appointment events; `change.fields` of a client's
  own directory events; `change.client` of a waitlist entry's `waitlist.Joined`;
- what the client wrote: questionnaire answers (`initial.questionnaire`,
  `change.questionnaire`), the feedback comment (`change.feedback.comment`) and
  the message of a change the client made through a link (`change.message` when
  the actor's role is `client`).
Everything else (ids, statuses, times, reasons picked from the organisation's lists,
ratings, staff messages and notes) stays in clear: it is the timeline.
"""
from __future__ import annotations

from typing import Any

CONTACT = ("name", "email", "phone")
ERASED_NAME = "erased"
# field -> what it shows once the key that sealed it is gone
ERASED: dict[str, Any] = {"name": ERASED_NAME, "email": None, "phone": None,
                          "questionnaire": {}, "comment": None, "message": None}
# A directory client's fields after `client.Erased`.
ERASED_CLIENT = {"name": ERASED_NAME, "email": None, "phone": None, "active": False,
                 "erased": True}

Place = tuple[dict[str, Any], str]   # (the object holding the value, its key)


def places(topic: str, state: dict[str, Any]) -> list[Place]:
    """Where `state` (a stored event's) holds personal data that is present (not None)."""
    family = topic.split(".", 1)[0].rsplit(":", 1)[-1].lower()
    found: list[Place] = []
    if family == "appointment":
        change, initial = _obj(state.get("change")), _obj(state.get("initial"))
        for holder in (initial, change):
            for key in ("client", "previous_client"):
                client = _obj(holder.get(key))
                found += [(client, f) for f in CONTACT if f in client]
            if "questionnaire" in holder:
                found.append((holder, "questionnaire"))
        feedback = _obj(change.get("feedback"))
        if "comment" in feedback:
            found.append((feedback, "comment"))
        if _obj(change.get("actor")).get("role") == "client" and "message" in change:
            found.append((change, "message"))
    elif family == "waitlist":   # a waitlist entry's client (waitlist.Joined)
        client = _obj(_obj(state.get("change")).get("client"))
        found += [(client, f) for f in CONTACT if f in client]
    elif family == "client" and not topic.endswith("Erased"):
        fields = _obj(_obj(state.get("change")).get("fields"))
        found += [(fields, f) for f in CONTACT if f in fields]
    return [(holder, key) for holder, key in found if holder[key] is not None]


def client_of(topic: str, state: dict[str, Any], subject: str) -> str | None:
    """The directory client whose data an event carries (None: a tentative client)."""
    if topic.split(".", 1)[0].rsplit(":", 1)[-1].lower() == "client":
        return subject
    for holder in (_obj(state.get("change")), _obj(state.get("initial"))):
        client = _obj(holder.get("client"))
        if client.get("id") and not client.get("tentative"):
            return str(client["id"])
    return None


def erased_appointment(snapshot: dict[str, Any]) -> dict[str, Any]:
    """An appointment snapshot (an idempotent answer) as it shows once its client is erased."""
    client = snapshot.get("client")
    if isinstance(client, dict):
        client.update({f: ERASED[f] for f in CONTACT})
    if "questionnaire" in snapshot:
        snapshot["questionnaire"] = {}
    if isinstance(snapshot.get("feedback"), dict) and "comment" in snapshot["feedback"]:
        snapshot["feedback"]["comment"] = None
    return snapshot


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
