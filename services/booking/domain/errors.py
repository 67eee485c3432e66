"""Domain refusals, each one an HTTP problem through shared.errors."""
from __future__ import annotations

from shared.errors import Conflict, Invalid, NotFound


class TransitionNotAllowed(Conflict):
    title = "Transition not allowed"

    def __init__(self, action: str, status: str | None, to_status: str,
                 allowed_actions: list[str], workflow: dict[str, object]) -> None:
        where = f"from status '{status}'" if status else "for a new appointment"
        super().__init__(
            f"'{action}' to '{to_status}' is not allowed {where} in workflow "
            f"{workflow['id']} v{workflow['version']}",
            action=action, current_status=status, to_status=to_status, allowed_actions=allowed_actions,
            workflow=workflow)


class NotDue(Conflict):
    title = "Not due yet"

    def __init__(self, action: str, start: str) -> None:
        super().__init__(f"'{action}' is possible only once the appointment is due (from {start})",
                         action=action, due_from=start)


class AgentNotAvailable(Conflict):
    title = "Agent not available"

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id} is not available at that time (outside working hours "
                         "or another appointment overlaps)", agent_id=agent_id)


class ClientNotLinked(Conflict):
    title = "Client not linked"

    def __init__(self) -> None:
        super().__init__("the client is tentative: link it to an existing client or save it as "
                         "a new client first (link_client, save_tentative_client)")


class SlotRequired(Conflict):
    title = "Exact slot required"

    def __init__(self, action: str) -> None:
        super().__init__(f"'{action}' needs an exact slot; give one (slot.start, slot.end)")


class FeedbackAlreadyRequested(Conflict):
    title = "Feedback already requested today"

    def __init__(self, day: str) -> None:
        super().__init__(f"feedback was already requested on {day} (organisation's time zone); "
                         "at most once per calendar day", requested_on=day)


class LinkAlreadyUsed(Conflict):
    title = "Link already used"

    def __init__(self) -> None:
        super().__init__("this link has already been used; ask the organisation for a new one")


class AppointmentClosed(Conflict):
    title = "Appointment closed"

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"'{action}' is not possible on an appointment in status '{status}'",
                         current_status=status)


class NoteNotFound(NotFound):
    def __init__(self, note_id: str) -> None:
        super().__init__(f"no note {note_id} on this appointment")


def reason_problem(field: str, reason: str | None, allowed: list[str], required: bool) -> None:
    """Raise Invalid unless `reason` satisfies an organisation's reason list."""
    if not reason:
        if required:
            choices = f" (one of: {', '.join(allowed)})" if allowed else ""
            raise Invalid(field, f"a reason is required{choices}")
        return
    if allowed and reason not in allowed:
        raise Invalid(field, f"not one of the organisation's reasons: {', '.join(allowed)}")


class StaleVersion(Conflict):
    title = "Stale version"

    def __init__(self, current_version: int) -> None:
        super().__init__(f"the resource changed meanwhile; it is now at version {current_version}: "
                         "reload it and try again", current_version=current_version,
                         headers={"ETag": f'"{current_version}"'})
