"""Status workflows as data, and the pure rules of which action leads where.

The workflow service is the authority (it serves definitions and validates
transitions with these rules); booking falls back to the same rules on a
cached, immutable version when workflow cannot be reached.

A custom workflow (Calenso) defines the statuses *before and at* confirmation
(kinds start, step, confirmation, cancellation). After confirmation the
built-in tail applies: attended, no_show, reopened, feedback_pending,
feedback_received, plus reschedule_requested.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("start", "step", "confirmation", "cancellation", "completion", "final")
CUSTOM_KINDS = ("start", "step", "confirmation", "cancellation")
BUILTIN_ID = "builtin"


@dataclass(frozen=True)
class Status:
    key: str
    name: str
    kind: str
    position: int
    description: str = ""
    colour: str = "#9e9e9e"

    def as_dict(self) -> dict[str, Any]:
        return dict(key=self.key, name=self.name, kind=self.kind, position=self.position,
                    description=self.description, colour=self.colour)


# The built-in tail every workflow shares after confirmation.
TAIL = (
    Status("reschedule_requested", "Reschedule requested", "step", 900,
           "the organisation asked the client to propose a new time", "#ffb300"),
    Status("attended", "Attended", "completion", 910, "the client came", "#43a047"),
    Status("no_show", "No-show", "completion", 920, "the client did not come", "#6d4c41"),
    Status("reopened", "Reopened", "step", 930, "a completed appointment opened again", "#8e24aa"),
    Status("feedback_pending", "Feedback pending", "step", 940, "a survey was sent", "#00acc1"),
    Status("feedback_received", "Feedback received", "final", 950, "the client answered", "#00897b"),
)
BUILTIN_HEAD = (
    Status("requested", "Requested", "start", 10, "asked for, not confirmed", "#fdd835"),
    Status("scheduled", "Scheduled", "confirmation", 20, "time confirmed", "#1e88e5"),
    Status("cancelled", "Cancelled", "cancellation", 30, "called off", "#e53935"),
    Status("rejected", "Rejected", "cancellation", 40, "a request declined", "#b71c1c"),
)


@dataclass(frozen=True)
class Definition:
    """One published (immutable) version of a workflow."""
    id: str
    version: int
    name: str
    statuses: tuple[Status, ...]
    organisation_id: str = ""
    _by_key: dict[str, Status] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key.update({s.key: s for s in self.statuses + TAIL})

    @property
    def is_builtin(self) -> bool:
        return self.id == BUILTIN_ID

    def status(self, key: str) -> Status | None:
        return self._by_key.get(key)

    def of_kind(self, kind: str) -> list[Status]:
        return sorted((s for s in self.statuses if s.kind == kind), key=lambda s: s.position)

    @property
    def start(self) -> Status:
        return self.of_kind("start")[0]

    @property
    def confirmation(self) -> Status:
        return self.of_kind("confirmation")[0]

    def cancellation(self, action: str) -> Status:
        kinds = self.of_kind("cancellation")
        if self.is_builtin:
            return self._by_key["rejected" if action == "reject" else "cancelled"]
        return kinds[0]

    def as_dict(self) -> dict[str, Any]:
        return dict(id=self.id, version=self.version, name=self.name,
                    organisation_id=self.organisation_id,
                    statuses=[s.as_dict() for s in self.statuses + TAIL])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Definition:
        tail = {s.key for s in TAIL}
        statuses = tuple(Status(**s) for s in d["statuses"] if s["key"] not in tail)
        return cls(d["id"], int(d["version"]), d["name"], statuses, d.get("organisation_id", ""))


BUILTIN = Definition(BUILTIN_ID, 1, "Built-in lifecycle", BUILTIN_HEAD)


def builtin_status(workflow_id: str | None, key: str) -> Status | None:
    """The built-in lifecycle's status `key` where it applies to an appointment on
    `workflow_id`: every status of the built-in workflow, and the tail every workflow
    shares (what names and colours fall back to for events recorded before they carried
    them). None for a custom workflow's own statuses."""
    status = BUILTIN.status(key)
    if status is None or (workflow_id not in (None, BUILTIN_ID) and status not in TAIL):
        return None
    return status


def targets(definition: Definition, from_status: str | None, action: str) -> list[str]:
    """The statuses `action` may lead to from `from_status` (empty: not allowed)."""
    d = definition
    current = d.status(from_status) if from_status is not None else None
    if from_status is not None and current is None:
        return []
    kind = current.kind if current else None
    pre_confirmation = kind in ("start", "step") and from_status not in _TAIL_KEYS
    open_ = pre_confirmation or from_status == "reschedule_requested" or kind == "confirmation"
    confirmation = d.confirmation.key
    if action == "request":
        return [d.start.key, confirmation] if current is None else []
    if action == "create":
        return [s.key for s in d.statuses if s.kind in ("start", "step", "confirmation")] \
            if current is None else []
    if action in ("confirm", "accept_suggestion"):
        return [confirmation] if pre_confirmation else []
    if action == "reschedule":
        return [confirmation, d.start.key] if kind == "confirmation" else []
    if action == "request_reschedule":
        return ["reschedule_requested"] if pre_confirmation or kind == "confirmation" else []
    if action == "propose_time":
        # The client's link: asked to (reschedule_requested) or of their own
        # accord on a confirmed appointment; it waits for the organisation again.
        ok = from_status == "reschedule_requested" or kind == "confirmation"
        return [d.start.key] if ok else []
    if action == "cancel":
        return [d.cancellation("cancel").key] if open_ else []
    if action == "reject":
        ok = pre_confirmation or from_status == "reschedule_requested"
        return [d.cancellation("reject").key] if ok else []
    if action in ("attend", "no_show"):
        ok = kind == "confirmation" or from_status == "reopened"
        return [("attended" if action == "attend" else "no_show")] if ok else []
    if action == "reopen":
        return ["reopened"] if from_status in ("attended", "no_show") else []
    if action == "request_feedback":
        return ["feedback_pending"] if from_status in ("attended", "feedback_pending") else []
    if action == "submit_feedback":
        return ["feedback_received"] if from_status == "feedback_pending" else []
    if action == "move":
        if d.is_builtin or current is None or not open_:
            return []
        forward = [s.key for s in d.statuses if s.kind != "cancellation"
                   and s.position > current.position and pre_confirmation]
        return forward + [s.key for s in d.of_kind("cancellation")]
    return []


_TAIL_KEYS = {s.key for s in TAIL}
VISITED = ("attended", "reopened", "feedback_pending", "feedback_received")


def holds_time(status: str, status_kind: str) -> bool:
    """Whether an appointment (with a slot) keeps its agent busy at that time.

    Once confirmed, and after the visit took place. Requests do not: two
    clients may ask for the same time and the first confirmation wins.
    Booking enforces it; the projections' availability view shows it.
    """
    return status_kind == "confirmation" or status in VISITED


ACTIONS = ("request", "create", "confirm", "accept_suggestion", "reschedule",
           "request_reschedule", "propose_time", "cancel", "reject", "attend", "no_show",
           "reopen", "request_feedback", "submit_feedback", "move")


def is_allowed(definition: Definition, from_status: str | None, action: str, to_status: str) -> bool:
    return to_status in targets(definition, from_status, action)


def allowed_actions(definition: Definition, from_status: str | None) -> list[str]:
    return [a for a in ACTIONS if targets(definition, from_status, a)]


def validate_custom(statuses: list[dict[str, Any]]) -> list[str]:
    """Problems with a custom workflow's statuses (empty: publishable)."""
    problems = []
    keys = [str(s.get("key")) for s in statuses]
    if len(set(keys)) != len(keys):
        problems.append("status keys must be unique")
    if set(keys) & _TAIL_KEYS:
        problems.append(f"keys {sorted(set(keys) & _TAIL_KEYS)} are reserved for the built-in tail")
    kinds = [s.get("kind") for s in statuses]
    if any(k not in CUSTOM_KINDS for k in kinds):
        problems.append(f"kind must be one of {', '.join(CUSTOM_KINDS)}")
    if kinds.count("start") != 1:
        problems.append("exactly one status must be of kind start")
    if "confirmation" not in kinds:
        problems.append("at least one status must be of kind confirmation")
    if "cancellation" not in kinds:
        problems.append("at least one status must be of kind cancellation")
    positions = [s.get("position") for s in statuses]
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in positions):
        return problems + ["every position must be an integer"]
    if len(set(positions)) != len(positions):
        problems.append("positions must be unique")
    by_kind = {k: [s["position"] for s in statuses if s.get("kind") == k] for k in CUSTOM_KINDS}
    if by_kind["start"] and min(by_kind["start"] + by_kind["step"] + by_kind["confirmation"]) \
            < by_kind["start"][0]:
        problems.append("the start status must come first")
    if by_kind["step"] and by_kind["confirmation"] and \
            max(by_kind["step"]) > min(by_kind["confirmation"]):
        problems.append("every step must come before the confirmation status")
    return problems
