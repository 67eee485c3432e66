"""What each workflow command carries: one frozen dataclass per command.

The HTTP layer loads each from the request body with its marshmallow schema
(entrypoints/schemas.py) and hands it to the WorkflowApplication method of the same
name. Publishing carries nothing but the workflow's id, so it has no command type.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from services.workflow.domain.workflow import StatusData


@dataclass(frozen=True)
class Create:
    """Define a workflow with a draft of statuses."""
    name: str
    statuses: list[StatusData] = field(default_factory=list)


@dataclass(frozen=True)
class ReplaceDraft:
    statuses: list[StatusData]
    name: str | None = None   # None: the name stays
