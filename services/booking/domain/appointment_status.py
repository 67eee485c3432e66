"""Status changes of an appointment: each allowed by the workflow authority first (a
`Transition`), then checked against the rules that need the appointment's own state."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.booking.domain import errors
from services.booking.domain.appointment_rules import AppointmentRules, Context
from services.booking.domain.changes import (
    AttendedChange,
    CancelledChange,
    ConfirmedChange,
    Feedback,
    FeedbackRequestedChange,
    FeedbackSubmittedChange,
    MovedToStatusChange,
    Outcome,
    ReopenedChange,
    SlotChange,
    StatusChange,
    TimeProposedChange,
)
from services.booking.domain.transitions import Transition
from services.booking.domain.values import Slot, local_day
from shared.errors import Conflict, Invalid

LATE_CANCELLATION = "late_cancellation"


class StatusChanges(AppointmentRules):
    proposal: dict[str, str] | None
    feedback_requested_on: str | None
    # The events these trigger, declared with @event on Appointment (appointment.py).
    _confirmed: Callable[[ConfirmedChange, datetime], None]
    _suggestion_accepted: Callable[[SlotChange, datetime], None]
    _rescheduled: Callable[[SlotChange, datetime], None]
    _reschedule_requested: Callable[[StatusChange, datetime], None]
    _time_proposed: Callable[[TimeProposedChange, datetime], None]
    _cancelled: Callable[[CancelledChange, datetime], None]
    _rejected: Callable[[StatusChange, datetime], None]
    _attended: Callable[[AttendedChange, datetime], None]
    _no_show: Callable[[StatusChange, datetime], None]
    _reopened: Callable[[ReopenedChange, datetime], None]
    _feedback_requested: Callable[[FeedbackRequestedChange, datetime], None]
    _feedback_submitted: Callable[[FeedbackSubmittedChange, datetime], None]
    _moved_to_status: Callable[[MovedToStatusChange, datetime], None]

    def confirm(self, ctx: Context, t: Transition, *, slot: dict[str, Any] | None = None,
                agent: dict[str, Any] | None = None, message: str | None = None) -> None:
        new_slot = Slot.of(slot).as_dict() if slot else self.slot
        new_agent = self._agent_fields(agent) if agent else None
        self._ensure_confirmable(ctx, "confirm", new_slot,
                                 new_agent["agent_id"] if new_agent else self.agent_id)
        change = ConfirmedChange(**self._status_change(ctx, t, message=message), proposal=None)
        if slot and new_slot:
            change["slot"], change["previous_slot"] = new_slot, self.slot
        if new_agent:
            change.update(new_agent)
        self._confirmed(change, ctx.meta.now)

    def accept_suggestion(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        if not self.proposal:
            raise Conflict("there is no time proposed by the client to accept")
        self._ensure_confirmable(ctx, "accept_suggestion", self.proposal, self.agent_id)
        self._suggestion_accepted(SlotChange(
            **self._status_change(ctx, t, message=message), slot=self.proposal,
            previous_slot=self.slot, proposal=None), ctx.meta.now)

    def reschedule(self, ctx: Context, t: Transition, *, slot: dict[str, Any],
                   message: str | None = None) -> None:
        new_slot = Slot.of(slot).as_dict()
        if t.status_kind == "confirmation":
            self._ensure_bookable(ctx, "reschedule", new_slot, self.agent_id)
        self._rescheduled(SlotChange(
            **self._status_change(ctx, t, message=message), slot=new_slot,
            previous_slot=self.slot, proposal=None), ctx.meta.now)

    def request_reschedule(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        self._reschedule_requested(self._status_change(ctx, t, message=message), ctx.meta.now)

    def propose_time(self, ctx: Context, t: Transition, *, slot: dict[str, Any],
                     message: str | None = None, link_id: str | None = None) -> None:
        proposal = Slot.of(slot).as_dict()
        self._time_proposed(TimeProposedChange(
            **self._status_change(ctx, t, message=message), link_id=link_id,
            proposal=proposal), ctx.meta.now)

    def cancel(self, ctx: Context, t: Transition, *, reason: str | None = None,
               message: str | None = None, link_id: str | None = None) -> None:
        settings = ctx.organisation.settings
        errors.reason_problem("reason", reason, settings["cancellation_reasons"],
                              settings["cancel_reason_required"] or self._custom(t))
        late = self._late_cancellation(ctx)
        change = CancelledChange(**self._status_change(ctx, t, reason=reason, message=message),
                                 link_id=link_id)
        if late:
            change["outcome"] = late
        self._cancelled(change, ctx.meta.now)

    def reject(self, ctx: Context, t: Transition, *, reason: str | None = None,
               message: str | None = None) -> None:
        errors.reason_problem("reason", reason, ctx.organisation.settings["rejection_reasons"],
                              True)
        self._rejected(self._status_change(ctx, t, reason=reason, message=message), ctx.meta.now)

    def attend(self, ctx: Context, t: Transition, *, time_taken_minutes: int | None = None,
               completion_reason: str | None = None, remark: str | None = None) -> None:
        self._ensure_due(ctx, "attend")
        if time_taken_minutes is not None and time_taken_minutes < 0:
            raise Invalid("time_taken_minutes", "must not be negative")
        outcome = Outcome(time_taken_minutes=time_taken_minutes,
                          completion_reason=completion_reason, remark=remark)
        self._attended(AttendedChange(**self._status_change(ctx, t), outcome=outcome),
                       ctx.meta.now)

    def no_show(self, ctx: Context, t: Transition, *, reason: str | None = None) -> None:
        self._ensure_due(ctx, "no_show")
        self._no_show(self._status_change(ctx, t, reason=reason), ctx.meta.now)

    def reopen(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        self._reopened(ReopenedChange(**self._status_change(ctx, t, message=message),
                                      outcome=None), ctx.meta.now)

    def request_feedback(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        today = local_day(ctx.meta.now, ctx.organisation.tz).isoformat()
        if self.feedback_requested_on == today:
            raise errors.FeedbackAlreadyRequested(today)
        self._feedback_requested(FeedbackRequestedChange(
            **self._status_change(ctx, t, message=message), feedback_requested_on=today),
            ctx.meta.now)

    def submit_feedback(self, ctx: Context, t: Transition, *, rating: int,
                        comment: str | None = None, link_id: str | None = None) -> None:
        if not 1 <= rating <= 5:
            raise Invalid("rating", "must be between 1 and 5")
        self._feedback_submitted(FeedbackSubmittedChange(
            **self._status_change(ctx, t), link_id=link_id,
            feedback=Feedback(rating=rating, comment=comment)), ctx.meta.now)

    def move(self, ctx: Context, t: Transition, *, status: str, reason: str | None = None,
             message: str | None = None) -> None:
        if t.status_kind == "cancellation":
            errors.reason_problem("reason", reason,
                                  ctx.organisation.settings["cancellation_reasons"], True)
        if t.status_kind == "confirmation":
            self._ensure_confirmable(ctx, "move", self.slot, self.agent_id)
        late = self._late_cancellation(ctx) if t.status_kind == "cancellation" else None
        change = MovedToStatusChange(**self._status_change(ctx, t, reason=reason,
                                                           message=message))
        if late:
            change["outcome"] = late
        self._moved_to_status(change, ctx.meta.now)

    def _late_cancellation(self, ctx: Context) -> Outcome | None:
        """The outcome of cancelling a booked appointment (status kind confirmation) inside
        the organisation's notice before its start (`late_cancellation_notice_hours`)."""
        hours = ctx.organisation.setting("late_cancellation_notice_hours")
        if hours is None or self.slot is None or self.status_kind != "confirmation":
            return None
        if ctx.meta.now <= Slot.of(self.slot).start - timedelta(hours=hours):
            return None
        return Outcome(kind=LATE_CANCELLATION, time_taken_minutes=None,
                       completion_reason=LATE_CANCELLATION, remark=None)
