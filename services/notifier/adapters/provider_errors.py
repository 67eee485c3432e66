"""Provider answers into the notifier's two kinds of failure."""
from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from services.notifier.domain.model import (
    DeliveryFailed,
    PermanentFailure,
    TemporaryFailure,
    is_retryable_status,
)


def from_status(provider: str, status: int, detail: str,
                headers: Mapping[str, Any] | None = None) -> DeliveryFailed:
    reason = f"{provider} answered {status}: {detail}".strip().rstrip(":")[:1000]
    if is_retryable_status(status):
        # A 5xx (a gateway's 502/504 above all) does not prove the message was not taken.
        return TemporaryFailure(reason, retry_after(headers or {}), maybe_sent=status >= 500)
    return PermanentFailure(reason)


def retry_after(headers: Mapping[str, Any]) -> float | None:
    """Seconds the provider asks us to wait: Retry-After (seconds or an HTTP
    date), else SendGrid's X-RateLimit-Reset (epoch seconds)."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    reset = lowered.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None
