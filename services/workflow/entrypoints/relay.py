"""The workflow relay process: `python -m services.workflow.entrypoints.relay`.

Follows the workflow event store's notification log (the outbox) and publishes
each event to `workflows.events` (see adapters/cloudevents.py). `status` and
`resolve` as for booking's relay (shared/relay_resolve.py, README runbook)."""
from __future__ import annotations

import sys

from services.workflow import bootstrap
from services.workflow.adapters.cloudevents import to_messages
from services.workflow.entrypoints.http import RELAY_NAME
from shared import logs, relay_resolve
from shared.relay import run


def main(argv: list[str]) -> int:
    parts = bootstrap.parts()
    url = parts.settings.database_url
    if argv:
        logs.setup("workflow-relay-operator")
        return relay_resolve.main(argv, parts.application, to_messages, url, RELAY_NAME)
    logs.setup("workflow-relay")
    run(application=parts.application, to_messages=to_messages, database_url=url,
        name=RELAY_NAME, bootstrap_servers=parts.settings.kafka_required())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
