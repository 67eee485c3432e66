"""Status changes of an appointment: each allowed by the workflow authority first (a
`Transition`), then checked against the rules that need the appointment's own state."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from services.booking.domain import errors
from services.booking.domain.appointment_rules import AppointmentRules, Context
from services.booking.domain.transitions import Transition
from services.booking.domain.values import Slot, local_day
from shared.errors import Conflict, Invalid

LATE_CANCELLATION = "late_cancellation"


class StatusChanges(AppointmentRules):
    proposal: dict[str, str] | None
    feedback_requested_on: str | None
    # The events these trigger, declared with @event on Appointment (appointment.py).
    _confirmed: Callable[..., None]
    _suggestion_accepted: Callable[..., None]
    _rescheduled: Callable[..., None]
    _reschedule_requested: Callable[..., None]
    _time_proposed: Callable[..., None]
    _cancelled: Callable[..., None]
    _rejected: Callable[..., None]
    _attended: Callable[..., None]
    _no_show: Callable[..., None]
    _reopened: Callable[..., None]
    _feedback_requested: Callable[..., None]
    _feedback_submitted: Callable[..., None]
    _moved_to_status: Callable[..., None]

    def confirm(self, ctx: Context, t: Transition, *, slot: dict[str, Any] | None = None,
                agent: dict[str, Any] | None = None, message: str | None = None) -> None:
        new_slot = Slot.of(slot).as_dict() if slot else self.slot
        fields: dict[str, Any] = {"proposal": None}
        if slot:
            fields.update(slot=new_slot, previous_slot=self.slot)
        if agent:
            fields.update(self._agent_fields(agent))
        self._ensure_confirmable(ctx, "confirm", new_slot, fields.get("agent_id", self.agent_id))
        self._record(self._confirmed, ctx, t, message=message, **fields)

    def accept_suggestion(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        if not self.proposal:
            raise Conflict("there is no time proposed by the client to accept")
        self._ensure_confirmable(ctx, "accept_suggestion", self.proposal, self.agent_id)
        self._record(self._suggestion_accepted, ctx, t, message=message, slot=self.proposal,
                     previous_slot=self.slot, proposal=None)

    def reschedule(self, ctx: Context, t: Transition, *, slot: dict[str, Any],
                   message: str | None = None) -> None:
        new_slot = Slot.of(slot).as_dict()
        if t.status_kind == "confirmation":
            self._ensure_bookable(ctx, "reschedule", new_slot, self.agent_id)
        self._record(self._rescheduled, ctx, t, message=message, slot=new_slot,
                     previous_slot=self.slot, proposal=None)

    def request_reschedule(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        self._record(self._reschedule_requested, ctx, t, message=message)

    def propose_time(self, ctx: Context, t: Transition, *, slot: dict[str, Any],
                     message: str | None = None, link_id: str | None = None) -> None:
        self._record(self._time_proposed, ctx, t, message=message, link_id=link_id,
                     proposal=Slot.of(slot).as_dict())

    def cancel(self, ctx: Context, t: Transition, *, reason: str | None = None,
               message: str | None = None, link_id: str | None = None) -> None:
        settings = ctx.organisation.settings
        errors.reason_problem("reason", reason, settings["cancellation_reasons"],
                              settings["cancel_reason_required"] or self._custom(t))
        self._record(self._cancelled, ctx, t, reason=reason, message=message, link_id=link_id,
                     **self._late_cancellation(ctx))

    def reject(self, ctx: Context, t: Transition, *, reason: str | None = None,
               message: str | None = None) -> None:
        errors.reason_problem("reason", reason, ctx.organisation.settings["rejection_reasons"],
                              True)
        self._record(self._rejected, ctx, t, reason=reason, message=message)

    def attend(self, ctx: Context, t: Transition, *, time_taken_minutes: int | None = None,
               completion_reason: str | None = None, remark: str | None = None) -> None:
        self._ensure_due(ctx, "attend")
        if time_taken_minutes is not None and time_taken_minutes < 0:
            raise Invalid("time_taken_minutes", "must not be negative")
        outcome = {"time_taken_minutes": time_taken_minutes,
                   "completion_reason": completion_reason, "remark": remark}
        self._record(self._attended, ctx, t, outcome=outcome)

    def no_show(self, ctx: Context, t: Transition, *, reason: str | None = None) -> None:
        self._ensure_due(ctx, "no_show")
        self._record(self._no_show, ctx, t, reason=reason)

    def reopen(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        self._record(self._reopened, ctx, t, message=message, outcome=None)

    def request_feedback(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        today = local_day(ctx.meta.now, ctx.organisation.tz).isoformat()
        if self.feedback_requested_on == today:
            raise errors.FeedbackAlreadyRequested(today)
        self._record(self._feedback_requested, ctx, t, message=message,
                     feedback_requested_on=today)

    def submit_feedback(self, ctx: Context, t: Transition, *, rating: int,
                        comment: str | None = None, link_id: str | None = None) -> None:
        if not 1 <= rating <= 5:
            raise Invalid("rating", "must be between 1 and 5")
        self._record(self._feedback_submitted, ctx, t, link_id=link_id,
                     feedback={"rating": rating, "comment": comment})

    def move(self, ctx: Context, t: Transition, *, status: str, reason: str | None = None,
             message: str | None = None) -> None:
        if t.status_kind == "cancellation":
            errors.reason_problem("reason", reason,
                                  ctx.organisation.settings["cancellation_reasons"], True)
        if t.status_kind == "confirmation":
            self._ensure_confirmable(ctx, "move", self.slot, self.agent_id)
        late = self._late_cancellation(ctx) if t.status_kind == "cancellation" else {}
        self._record(self._moved_to_status, ctx, t, reason=reason, message=message, **late)

    def _late_cancellation(self, ctx: Context) -> dict[str, Any]:
        """The outcome of cancelling a booked appointment (status kind confirmation) inside
        the organisation's notice before its start (`late_cancellation_notice_hours`)."""
        hours = ctx.organisation.setting("late_cancellation_notice_hours")
        if hours is None or self.slot is None or self.status_kind != "confirmation":
            return {}
        if ctx.meta.now <= Slot.of(self.slot).start - timedelta(hours=hours):
            return {}
        return {"outcome": {"kind": LATE_CANCELLATION, "time_taken_minutes": None,
                            "completion_reason": LATE_CANCELLATION, "remark": None}}
