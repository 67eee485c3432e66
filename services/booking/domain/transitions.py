"""Which status an action aims for, and the verdict the workflow authority gave."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.booking.domain.changes import StatusOf
from shared.domain.lifecycle import Definition
from shared.errors import Invalid

# Actions that change (or re-enter) a status and so need the workflow's verdict.
STATUS_ACTIONS = ("request", "create", "confirm", "accept_suggestion", "reschedule",
                  "request_reschedule", "propose_time", "cancel", "reject", "attend", "no_show",
                  "reopen", "request_feedback", "submit_feedback", "move")
# Actions that leave the status as it is (no workflow call, from_status == to_status).
DETAIL_ACTIONS = ("reassign", "add_note", "edit_note", "update_details", "link_client")
FIXED = {"request_reschedule": "reschedule_requested", "attend": "attended",
         "no_show": "no_show", "reopen": "reopened", "request_feedback": "feedback_pending",
         "submit_feedback": "feedback_received"}


@dataclass(frozen=True)
class Transition:
    """A status change the workflow allowed, as recorded in the event."""
    action: str
    from_status: str | None
    to_status: str
    status_kind: str
    workflow: dict[str, Any]
    status_name: str = ""  # the organisation's name for it (custom workflows)
    status_colour: str | None = None  # its colour in the workflow version checked against

    def change(self) -> StatusOf:
        return StatusOf(from_status=self.from_status, to_status=self.to_status,
                        status_kind=self.status_kind, status_name=self.status_name,
                        status_colour=self.status_colour, workflow=dict(self.workflow))


def intended_status(d: Definition, action: str, status: str | None = None,
                    reconfirm_reschedules: bool = False, confirm_at_once: bool = False) -> str:
    """The status `action` aims for in workflow `d` (the workflow then says yes or no);
    `status` is the one a `create` or `move` names."""
    if action in FIXED:
        return FIXED[action]
    if action == "request":
        return d.confirmation.key if confirm_at_once else d.start.key
    if action in ("create", "move"):
        if not status or d.status(status) is None:
            keys = [s.key for s in d.statuses]
            raise Invalid("status", f"not a status of workflow {d.id} v{d.version}: "
                          f"{', '.join(keys)}")
        return str(status)
    if action in ("confirm", "accept_suggestion"):
        return d.confirmation.key
    if action == "reschedule":
        return d.start.key if reconfirm_reschedules else d.confirmation.key
    if action == "propose_time":
        return d.start.key
    if action in ("cancel", "reject"):
        return d.cancellation(action).key
    raise ValueError(f"unknown status action {action}")
