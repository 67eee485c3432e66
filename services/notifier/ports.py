"""What the application needs from the outside, as protocols."""
from __future__ import annotations

from typing import Protocol

from services.notifier.domain.model import Delivery


class Transport(Protocol):
    """Hands one delivery to a provider; returns the provider's message id.

    Raises TemporaryFailure (try again later) or PermanentFailure (never).
    """
    channel: str

    def send(self, delivery: Delivery) -> str: ...
