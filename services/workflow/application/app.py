"""Use cases over the event store: define, edit, publish, serve versions and
validate transitions. Library errors become domain errors here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from services.workflow.application import commands as c
from services.workflow.domain.catalogue import Catalogue
from services.workflow.domain.workflow import Workflow
from shared import db
from shared.domain import lifecycle
from shared.errors import Conflict, Invalid, NotFound


@dataclass(frozen=True)
class Actor:
    """Who asks, from the bearer token, and the request's correlation id."""
    organisation_id: str
    subject: str
    correlation_id: str = ""


class WorkflowApplication(Application[UUID]):
    name = "workflow"  # table workflow_events; settings WORKFLOW_POSTGRES_*
    # The library's aggregate cache, fast-forwarded from the event store on every get
    # (one query for events after the cached version, usually none) rather than a
    # replay from scratch: current in every process, since each get reads the store.
    # Commands get a deep copy; the transition check reads its latest version in place.
    env = {"AGGREGATE_CACHE_MAXSIZE": "1000", "AGGREGATE_CACHE_FASTFORWARD": "y"}

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        # (organisation, workflow, version) -> its definition: a published version
        # never changes, so a transition check need not replay the workflow again.
        self._published: dict[tuple[str, str, int], lifecycle.Definition] = {}

    @classmethod
    def for_database(cls, url: str, create_table: bool = True) -> WorkflowApplication:
        env = db.eventsourcing_env(url, cls.name)
        if not create_table:  # the owner role made them; the app role may not
            env["CREATE_TABLE"] = "n"
        return cls(env=env)

    # -- commands -----------------------------------------------------------
    def create(self, actor: Actor, cmd: c.Create, request_key: str | None = None) -> Workflow:
        """Define a workflow; a repeated `request_key` answers the first one."""
        org = actor.organisation_id
        wid = uuid5(NAMESPACE_URL, f"workflow/{org}/{request_key}") if request_key else None
        for _ in range(5):  # the catalogue is shared by the org's concurrent creates
            workflow = Workflow.define(org, cmd.name, cmd.statuses, actor.subject,
                                       actor.correlation_id, wid)
            catalogue = self._catalogue(org)
            catalogue.add(str(workflow.id))
            try:
                self.save(workflow, catalogue)
                return workflow
            except IntegrityError:
                if wid is not None and (existing := self._find(org, str(wid))) is not None:
                    return existing
        raise Conflict("too many concurrent changes to this organisation's workflows; retry")

    def replace_draft(self, actor: Actor, workflow_id: str, cmd: c.ReplaceDraft,
                      expected_version: int | None = None) -> Workflow:
        workflow = self._for_change(actor, workflow_id, expected_version)
        workflow.replace_draft(cmd.name, cmd.statuses, actor.subject, actor.correlation_id)
        self._save(workflow)
        return workflow

    def publish(self, actor: Actor, workflow_id: str,
                expected_version: int | None = None) -> tuple[Workflow, int, bool]:
        workflow = self._for_change(actor, workflow_id, expected_version)
        version, created = workflow.publish(actor.subject, actor.correlation_id)
        if created:
            self._save(workflow)
        return workflow, version, created

    # -- queries ------------------------------------------------------------
    def workflows(self, organisation_id: str, start: int = 0,
                  count: int | None = None) -> list[tuple[int, Workflow]]:
        """The organisation's workflows in the order they were defined, each with its
        place in that order (append-only: a page's keyset), from `start` on."""
        ids = list(self._catalogue(organisation_id).workflow_ids)
        chosen = ids[start:] if count is None else ids[start:start + count]
        found = ((start + n, self._find(organisation_id, i)) for n, i in enumerate(chosen))
        return [(n, w) for n, w in found if w is not None]

    def workflow(self, organisation_id: str, workflow_id: str) -> Workflow:
        workflow = self._find(organisation_id, workflow_id)
        if workflow is None:
            raise NotFound(f"no workflow {workflow_id}")
        return workflow

    def definition(self, organisation_id: str, workflow_id: str,
                   version: int | None = None) -> lifecycle.Definition:
        """A published, immutable version; `None` means the latest."""
        if workflow_id == lifecycle.BUILTIN_ID:
            if version not in (None, lifecycle.BUILTIN.version):
                raise NotFound(f"the built-in workflow has no version {version}")
            return lifecycle.BUILTIN
        key = (organisation_id, workflow_id, version)
        if version is not None and key in self._published:
            return self._published[key]  # a published version never changes
        workflow = self._find(organisation_id, workflow_id, copy=False)
        if workflow is None:
            raise NotFound(f"no workflow {workflow_id}")
        number = version if version is not None else workflow.latest_version
        known = self._published.get((organisation_id, workflow_id, number or 0))
        if known is not None:
            return known
        definition = workflow.definition(number)
        self._published[(organisation_id, workflow_id, definition.version)] = definition
        return definition

    def check_transition(self, organisation_id: str, workflow_id: str, version: int | None,
                         from_status: str | None, action: str,
                         to_status: str | None) -> dict[str, Any]:
        """Whether `action` may lead from `from_status` (to `to_status`, or its first target)."""
        definition = self.definition(organisation_id, workflow_id, version)
        for field, key in (("from_status", from_status), ("to_status", to_status)):
            if key is not None and definition.status(key) is None:
                raise Invalid(field, f"'{key}' is not a status of workflow {definition.id} "
                                     f"version {definition.version}")
        if action not in lifecycle.ACTIONS:
            raise Invalid("action", f"must be one of: {', '.join(lifecycle.ACTIONS)}")
        targets = lifecycle.targets(definition, from_status, action)
        chosen = to_status if to_status is not None else (targets[0] if targets else None)
        status = definition.status(chosen) if chosen else None
        return {"allowed": chosen is not None and chosen in targets,
                "workflow": {"id": definition.id, "version": definition.version},
                "to_status": chosen, "status_kind": status.kind if status else None,
                "allowed_actions": lifecycle.allowed_actions(definition, from_status)}

    # -- helpers ------------------------------------------------------------
    def _catalogue(self, organisation_id: str) -> Catalogue:
        try:
            return self.repository.get(Catalogue.create_id(organisation_id))
        except AggregateNotFoundError:
            return Catalogue(organisation_id)

    def _find(self, organisation_id: str, workflow_id: str, copy: bool = True) -> Workflow | None:
        """The workflow, or None when it does not exist *or* is another org's.
        `copy=False`: the cached one itself, to read and never to change."""
        try:
            workflow: object = self.repository.get(UUID(workflow_id), deepcopy_from_cache=copy)
        except (ValueError, AggregateNotFoundError):
            return None
        if not isinstance(workflow, Workflow) or workflow.organisation_id != organisation_id:
            return None
        return workflow

    def _for_change(self, actor: Actor, workflow_id: str,
                    expected_version: int | None) -> Workflow:
        if workflow_id == lifecycle.BUILTIN_ID:
            raise Conflict("the built-in workflow cannot be changed; define your own")
        workflow = self.workflow(actor.organisation_id, workflow_id)
        if expected_version is not None and expected_version != workflow.version:
            raise Conflict(f"workflow {workflow_id} is at version {workflow.version}, "
                           f"not {expected_version}", current_version=workflow.version)
        return workflow

    def _save(self, workflow: Workflow) -> None:
        try:
            self.save(workflow)
        except IntegrityError as e:
            current: int = self.repository.get(workflow.id).version
            raise Conflict(f"workflow {workflow.id} changed meanwhile (now at version "
                           f"{current}); reload and retry", current_version=current) from e


def builtin_snapshot(organisation_id: str) -> dict[str, Any]:
    """The built-in lifecycle, shaped like any workflow: read-only, one version."""
    return {"id": lifecycle.BUILTIN_ID, "organisation_id": organisation_id,
            "name": lifecycle.BUILTIN.name, "builtin": True, "revision": None,
            "created_at": None, "updated_at": None, "draft": None, "latest_version": 1,
            "versions": [lifecycle.BUILTIN.as_dict()]}
