"""SMS through Twilio's REST API with the official SDK.

The SDK talks to api.twilio.com; `RoutedHttpClient` sends its requests to
`TWILIO_BASE_URL` instead (tests use a local fake), with a time-out, and keeps
each thread's last response headers so that a 429's Retry-After is honoured
(the SDK's exception does not carry headers).

Twilio takes no idempotency key. Before an SMS whose earlier attempt has an
unknown outcome is sent again, `find` lists the messages to that number from
our sender since the attempt's day and matches the body and the creation time.
"""
from __future__ import annotations

import threading
from datetime import datetime, time, timedelta, timezone
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from services.notifier.adapters.provider_errors import from_status
from services.notifier.domain.model import Delivery, DeliveryFailed, TemporaryFailure

TWILIO_API = "https://api.twilio.com"
CLOCK_SKEW = timedelta(minutes=5)   # between our database's clock and Twilio's
LOOKUP_LIMIT = 200                  # messages to one number since the attempt, at most


class RoutedHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self._local = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        self._local.headers = {}
        response = super().request(method, url, *args, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response

    def last_headers(self) -> dict[str, str]:
        return getattr(self._local, "headers", {})


class TwilioTransport:
    channel = "sms"

    def __init__(self, account_sid: str, auth_token: str, base_url: str, sender: str,
                 timeout: float = 10.0) -> None:
        self.http = RoutedHttpClient(base_url, timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        self.sender = sender

    def send(self, delivery: Delivery) -> str:
        try:
            message = self.client.messages.create(to=delivery.to, from_=self.sender,
                                                  body=delivery.text)
        except TwilioRestException as e:
            raise self._failure(e) from e
        except requests.RequestException as e:  # refused, reset, timed out
            raise TemporaryFailure(f"Twilio did not answer: {e}", maybe_sent=True) from e
        return str(message.sid or "")

    def find(self, delivery: Delivery, since: datetime) -> list[str]:
        """Sids of messages Twilio took for this delivery since `since`, newest first.

        Twilio filters by the day a message was sent (GMT); a message it still
        queues has no such day yet and is not listed (README: what remains).
        """
        after = since - CLOCK_SKEW
        day = datetime.combine(after.astimezone(timezone.utc).date(), time(), timezone.utc)
        try:
            listed = self.client.messages.list(to=delivery.to, from_=self.sender,
                                               date_sent_after=day, limit=LOOKUP_LIMIT)
        except TwilioRestException as e:
            raise self._failure(e) from e
        except requests.RequestException as e:
            raise TemporaryFailure(f"Twilio did not answer: {e}") from e
        return [str(m.sid) for m in listed
                if m.body == delivery.text and m.date_created is not None
                and m.date_created >= after]

    def _failure(self, e: TwilioRestException) -> DeliveryFailed:
        detail = f"{e.code or ''} {e.msg}".strip()
        return from_status("Twilio", int(e.status), detail, self.http.last_headers())
