"""What the application needs from the outside, as protocols."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from psycopg import Cursor

from services.notifier.domain.model import Delivery


class Transport(Protocol):
    """Hands one delivery to a provider (SendGrid, Twilio).

    `send` returns the provider's message id, or raises TemporaryFailure (try
    again later) or PermanentFailure (never). `find` asks the provider for
    messages of this delivery it took since an attempt whose answer was lost
    (ids, newest first; empty when it has none or cannot tell).
    """
    channel: str

    def send(self, delivery: Delivery) -> str: ...

    def find(self, delivery: Delivery, since: datetime) -> list[str]: ...


@runtime_checkable
class LocalTransport(Protocol):
    """Keeps messages in the ledger's own database (the development mailbox):
    `write` runs inside the transaction that records the delivery sent, so
    the message and its 'sent' commit together or not at all."""
    channel: str

    def write(self, cur: Cursor[Any], delivery: Delivery) -> str: ...
