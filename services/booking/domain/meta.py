"""Who acts, when, and under which correlation id: stamped on every event."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.booking.domain.changes import Stamp


@dataclass(frozen=True)
class Meta:
    actor: dict[str, str]
    correlation_id: str
    now: datetime

    def stamp(self, action: str) -> Stamp:
        """The part every event's change begins with (services/booking/domain/changes.py)."""
        return Stamp(action=action, actor=dict(self.actor), correlation_id=self.correlation_id)
