"""Who acts, when, and under which correlation id: stamped on every event."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Meta:
    actor: dict[str, str]
    correlation_id: str
    now: datetime

    def change(self, action: str, **fields: Any) -> dict[str, Any]:
        return {"action": action, "actor": dict(self.actor),
                "correlation_id": self.correlation_id, **fields}
