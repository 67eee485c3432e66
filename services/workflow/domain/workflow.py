"""An organisation's own status workflow (Calenso): an editable draft and
published versions that never change once frozen.

Pure domain: no Flask, no SQL. The rules of which action leads where are
shared.domain.lifecycle's; this aggregate only keeps definitions and their versions.
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from shared.domain import lifecycle
from shared.errors import NotFound, Problem
from shared.event_names import name_events

StatusData = dict[str, Any]
STATUS_FIELDS = ("key", "name", "description", "position", "kind", "colour")
DEFAULTS: StatusData = {"description": "", "colour": "#9e9e9e"}


def normalise(statuses: list[StatusData]) -> list[StatusData]:
    """Exactly the fields of a lifecycle.Status, as fresh dicts (no aliasing)."""
    return [{f: copy.deepcopy(s.get(f, DEFAULTS.get(f))) for f in STATUS_FIELDS} for s in statuses]


def problems(statuses: list[StatusData]) -> list[str]:
    """Why a list of statuses cannot be published (empty: it can)."""
    return lifecycle.validate_custom(normalise(statuses))


class Workflow(Aggregate):
    """One workflow of one organisation."""

    def __init__(self, id: UUID, organisation_id: str, name: str, statuses: list[StatusData],
                 actor: str, correlation_id: str) -> None:
        self.organisation_id = organisation_id
        self.name = name
        self.draft = normalise(statuses)
        self.versions: list[dict[str, Any]] = []  # frozen: version, name, statuses, published_*

    @classmethod
    def define(cls, organisation_id: str, name: str, statuses: list[StatusData], actor: str,
               correlation_id: str = "", id: UUID | None = None) -> Workflow:
        return cls(id=id or uuid4(), organisation_id=organisation_id, name=name,
                   statuses=normalise(statuses), actor=actor, correlation_id=correlation_id)

    # -- commands -------------------------------------------------------------
    def replace_draft(self, name: str | None, statuses: list[StatusData], actor: str,
                      correlation_id: str = "") -> None:
        self._draft_replaced(name or self.name, normalise(statuses), actor, correlation_id)

    def publish(self, actor: str, correlation_id: str = "") -> tuple[int, bool]:
        """Freeze the draft as version N+1; answer (version, whether it is new).

        Publishing a draft identical to the latest version records nothing and
        answers that version, so a retried publish is harmless.
        """
        found = lifecycle.validate_custom(self.draft)
        if found:
            raise NotPublishable(found)
        latest = self.versions[-1] if self.versions else None
        if latest and latest["name"] == self.name and latest["statuses"] == self.draft:
            return latest["version"], False
        self._published(version=len(self.versions) + 1, name=self.name,
                        statuses=copy.deepcopy(self.draft), actor=actor,
                        correlation_id=correlation_id, timestamp=Workflow.Event.create_timestamp())
        return self.versions[-1]["version"], True

    # -- events ---------------------------------------------------------------
    @event("DraftReplaced")
    def _draft_replaced(self, name: str, statuses: list[StatusData], actor: str,
                        correlation_id: str) -> None:
        self.name = name
        self.draft = copy.deepcopy(statuses)

    @event("Published")
    def _published(self, version: int, name: str, statuses: list[StatusData], actor: str,
                   correlation_id: str, timestamp: datetime) -> None:
        self.versions.append(dict(
            version=version, name=name, statuses=copy.deepcopy(statuses),
            published_at=timestamp.isoformat(), published_by=actor))

    # -- queries --------------------------------------------------------------
    @property
    def latest_version(self) -> int | None:
        return self.versions[-1]["version"] if self.versions else None

    def definition(self, version: int | None = None) -> lifecycle.Definition:
        """A published version (default: the latest) as the lifecycle rules see it."""
        if version is None and not self.versions:
            raise VersionNotFound(f"workflow {self.id} has no published version yet")
        number = self.latest_version if version is None else version
        if not isinstance(number, int) or not 1 <= number <= len(self.versions):
            raise VersionNotFound(f"workflow {self.id} has no version {version}")
        frozen = self.versions[number - 1]
        statuses = tuple(lifecycle.Status(**s)
                         for s in sorted(frozen["statuses"], key=lambda s: s["position"]))
        return lifecycle.Definition(str(self.id), number, frozen["name"], statuses,
                                    self.organisation_id)

    def snapshot(self) -> dict[str, Any]:
        """The whole state as primitives (what the API answers and events carry)."""
        return {
            "id": str(self.id), "organisation_id": self.organisation_id, "name": self.name,
            "builtin": False, "revision": self.version,
            "created_at": self.created_on.isoformat(), "updated_at": self.modified_on.isoformat(),
            "draft": {"statuses": copy.deepcopy(self.draft)},
            "latest_version": self.latest_version,
            "versions": [dict(self.definition(v["version"]).as_dict(),
                              published_at=v["published_at"], published_by=v["published_by"])
                         for v in self.versions],
        }


name_events(Workflow, "workflow", formerly="services.workflow.domain.workflow:Workflow")


class NotPublishable(Problem):
    """The draft breaks a rule of custom workflows; names each reason."""
    status = 422
    title = "Invalid input"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("statuses: " + "; ".join(reasons), errors={"statuses": list(reasons)})
        self.reasons = list(reasons)


class VersionNotFound(NotFound):
    """No such published version (or none published yet)."""
