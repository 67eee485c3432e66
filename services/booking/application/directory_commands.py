"""Commands on the organisation's directory: its settings, services, resources, clients."""
from __future__ import annotations

import uuid
from typing import Any

from services.booking.application.base import BookingBase, Caller, check_version
from services.booking.application.ports import Erasure
from services.booking.domain.directory import KINDS, Client


class DirectoryCommands(BookingBase):
    def update_organisation(self, caller: Caller, fields: dict[str, Any],
                            expected_version: int | None = None) -> dict[str, Any]:
        org = self._organisation_for(caller)
        check_version(org, expected_version)
        org.update(fields, self._meta(caller.actor, caller.correlation_id))
        return self._save(caller, "organisation", org)

    def register(self, caller: Caller, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        self._organisation_for(caller)
        self._check_workflow(caller, fields)
        entry = KINDS[kind].register(caller.organisation_id, fields,
                                     self._meta(caller.actor, caller.correlation_id))
        return self._save(caller, kind, entry)

    def update_entry(self, caller: Caller, kind: str, entry_id: uuid.UUID, fields: dict[str, Any],
                     expected_version: int | None = None) -> dict[str, Any]:
        entry = self.entry(caller.organisation_id, kind, entry_id)
        check_version(entry, expected_version)
        self._check_workflow(caller, fields)
        entry.update(fields, self._meta(caller.actor, caller.correlation_id))
        return self._save(caller, kind, entry)

    def erase_client(self, caller: Caller, client_id: uuid.UUID) -> dict[str, Any]:
        """Destroy the client's keys: their data in every stored event reads as erased
        from now on, and the side tables forget it. Once erased, nothing more happens."""
        client = self.entry(caller.organisation_id, "client", client_id)
        assert isinstance(client, Client)
        org, client_key = caller.organisation_id, str(client.id)
        recorder: Any = self.recorder  # BookingRecorder or MemoryRecorder
        subjects = tuple(sorted({*self.tables.keys.subjects(org, client_key),
                                 *recorder.appointments_of(org, client_key)}))
        if not client.erase(subjects, self._meta(caller.actor, caller.correlation_id)):
            return {"client": client.snapshot(), "version": client.version, "position": None}
        return self._save(caller, "client", client,
                          erase=Erasure(caller.organisation_id, str(client.id), subjects))

    def _check_workflow(self, caller: Caller, fields: dict[str, Any]) -> None:
        if fields.get("workflow_id"):
            self.workflow.definition(caller.organisation_id, fields["workflow_id"], None)
