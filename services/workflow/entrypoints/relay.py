"""The workflow relay process: `python -m services.workflow.entrypoints.relay`.

Follows the workflow event store's notification log (the outbox) and publishes
each event to `workflows.events` (see adapters/cloudevents.py)."""
from __future__ import annotations

from services.workflow import bootstrap
from services.workflow.adapters.cloudevents import to_messages
from shared import logs
from shared.relay import run


def main() -> None:
    logs.setup("workflow-relay")
    url = bootstrap.database_url()
    run(application=bootstrap.application(url), to_messages=to_messages, database_url=url,
        name="workflow")


if __name__ == "__main__":
    main()
