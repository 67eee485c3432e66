"""Email through SendGrid's v3 API with the official SDK.

`SENDGRID_HOST` points the SDK elsewhere (tests use a local fake). The SDK has
no idempotency key: the ledger is what prevents a second send. Each email
carries its delivery id (`custom_args`), which SendGrid's event webhook and
activity feed echo back. There is no lookup before a re-send: SendGrid's
activity API (`GET /v3/messages`) is a paid add-on and its index lags by
minutes, so it could not tell reliably whether a message was taken (README).
"""
from __future__ import annotations

from datetime import datetime
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail

from services.notifier.adapters.provider_errors import from_status
from services.notifier.domain.model import Delivery, TemporaryFailure


class SendGridTransport:
    channel = "email"

    def __init__(self, api_key: str, host: str, sender: str, timeout: float = 10.0) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        # The SDK's HTTP client passes its timeout on to every request it builds.
        self.client.client.timeout = timeout
        self.sender = sender

    def send(self, delivery: Delivery) -> str:
        mail = Mail(from_email=self.sender, to_emails=delivery.to, subject=delivery.subject,
                    plain_text_content=delivery.text, html_content=delivery.html or None)
        # Echoed back in SendGrid's event webhook: ties its events to our row.
        mail.custom_arg = [CustomArg("delivery_id", str(delivery.id)),
                           CustomArg("event_id", delivery.event_id)]
        try:
            response = self.client.send(mail)
        except HTTPError as e:
            body = e.body.decode(errors="replace") if isinstance(e.body, bytes) else str(e.body)
            raise from_status("SendGrid", e.status_code, body, dict(e.headers or {})) from e
        except (URLError, OSError) as e:  # refused, reset, timed out
            raise TemporaryFailure(f"SendGrid did not answer: {e}", maybe_sent=True) from e
        return str(response.headers.get("X-Message-Id") or "")

    def find(self, delivery: Delivery, since: datetime) -> list[str]:
        """No lookup (see above): an email whose answer was lost is sent again."""
        return []
