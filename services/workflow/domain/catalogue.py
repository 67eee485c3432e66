"""The list of one organisation's workflows, kept as its own small aggregate
so that listing needs no read model: a workflow and its catalogue entry are
saved in one transaction."""
from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.event_names import name_events


class Catalogue(Aggregate):
    @staticmethod
    def create_id(organisation_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"workflow-catalogue/{organisation_id}")

    def __init__(self, organisation_id: str) -> None:
        self.organisation_id = organisation_id
        self.workflow_ids: list[str] = []

    @event("WorkflowAdded")
    def add(self, workflow_id: str) -> None:
        self.workflow_ids.append(workflow_id)


name_events(Catalogue, "workflow_catalogue", formerly="services.workflow.domain.catalogue:Catalogue")
