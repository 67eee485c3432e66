"""Per-recipient quotas: how many messages one client address or number may get
from one organisation in any hour and in any 24 hours. Plain rules; the ledger
counts, in the transaction that records the messages (adapters/ledger.py)."""
from __future__ import annotations

from dataclasses import dataclass

from services.notifier.domain.model import Message


@dataclass(frozen=True)
class Quota:
    per_hour: int
    per_day: int

    @staticmethod
    def applies_to(message: Message) -> bool:
        """Client addresses only: they arrive with requests, from anyone. The
        organisation's own and its resources' addresses are its managers' choice
        and hear about every booking, so they are not capped."""
        return message.recipient_kind == "client" and message.to is not None

    def refusal(self, last_hour: int, last_day: int) -> str | None:
        """Why one more message would be too many (None: it is not)."""
        if last_hour >= self.per_hour:
            return (f"quota reached: {last_hour} messages to this address in the last hour "
                    f"(NOTIFIER_QUOTA_PER_HOUR={self.per_hour})")
        if last_day >= self.per_day:
            return (f"quota reached: {last_day} messages to this address in the last 24 hours "
                    f"(NOTIFIER_QUOTA_PER_DAY={self.per_day})")
        return None
