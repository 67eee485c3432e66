"""A local fake of the two paid HTTP APIs the notifier calls, for the real SDKs.

- SendGrid v3: POST /v3/mail/send (JSON; 202 with X-Message-Id)
- Twilio:      POST /2010-04-01/Accounts/{sid}/Messages.json (form; 201 with a sid)
               GET  the same path ?To=&From=&DateSent>= (the messages taken, newest first)

Point the SDKs at `fake.url` (SENDGRID_HOST, TWILIO_BASE_URL). Every request
is logged in `requests`; the ones answered with success in `accepted`; every
Twilio lookup in `lookups`; `open_connections` counts the clients still connected
(none once a killed sender's requests have all been answered). Program failures per test:

    fake.fail("email", 429, headers={"Retry-After": "1"})   # the next email
    fake.fail("sms", 400, to="+4412", times=None)            # every SMS to that number
    fake.hang("email", 3.0)                                  # past the client's time-out
    fake.hang("sms", 3.0, accept=True)                       # taken, but the answer comes late
    fake.clear()                                             # the provider is fixed
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.waiting import wait_until

TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
SENDGRID_PATH = "/v3/mail/send"


@dataclass
class Rule:
    channel: str
    status: int = 500
    to: str | None = None
    times: int | None = 1             # None: until cleared
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0                 # seconds before answering (then 503)
    accept: bool = False              # with hang: the message is taken, the answer is late


@dataclass(frozen=True)
class Request:
    channel: str
    to: str
    subject: str
    text: str
    html: str
    sender: str
    custom_args: dict[str, str]
    authorization: str
    status: int
    provider_id: str
    at: float


class FakeProviders:
    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.rules: list[Rule] = []
        self.requests: list[Request] = []
        self.lookups: list[dict[str, str]] = []
        self.open_connections = 0   # a client's requests are all answered once it is closed
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- life -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeProviders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- programming ---------------------------------------------------------
    def fail(self, channel: str, status: int, *, to: str | None = None, times: int | None = 1,
             headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self.rules.append(Rule(channel, status, to, times, headers or {}))

    def hang(self, channel: str, seconds: float, *, to: str | None = None,
             times: int | None = 1, accept: bool = False) -> None:
        """Answer only after `seconds`: 503, or (`accept`) success for a message
        taken at once, whose answer the client has stopped waiting for."""
        with self._lock:
            self.rules.append(Rule(channel, 201 if accept else 503, to, times, hang=seconds,
                                   accept=accept))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    # -- reading -----------------------------------------------------------------
    @property
    def accepted(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.status < 300]

    def accepted_for(self, channel: str, to: str) -> list[Request]:
        return [r for r in self.accepted if r.channel == channel and r.to == to]

    def attempts_for(self, channel: str, to: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.channel == channel and r.to == to]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Request]:
        """At least `count` accepted requests (AssertionError after `timeout`)."""
        def enough() -> list[Request] | None:
            got = self.accepted
            return got if len(got) >= count else None

        try:
            found: list[Request] = wait_until(enough, timeout, f"{count} accepted requests",
                                              interval=0.05)
        except AssertionError as e:
            raise AssertionError(f"{e}; accepted: {self.accepted}") from None
        return found

    # -- answering ---------------------------------------------------------------
    def _rule_for(self, channel: str, to: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.channel == channel and rule.to in (None, to) and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def _answer(self, channel: str, parsed: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        if self.latency:
            time.sleep(self.latency)
        rule = self._rule_for(channel, parsed["to"])
        if rule and rule.hang and not rule.accept:
            self._released.wait(rule.hang)
        status = (202 if channel == "email" else 201) if not rule or rule.accept else rule.status
        provider_id = ""
        if status < 300:
            provider_id = (f"sg-{next(self._ids)}-{uuid.uuid4().hex[:8]}" if channel == "email"
                           else f"SM{uuid.uuid4().hex}")
        with self._lock:
            self.requests.append(Request(channel=channel, status=status, provider_id=provider_id,
                                         at=time.time(), **parsed))
        if rule and rule.accept:  # taken; the answer comes after the client gave up
            self._released.wait(rule.hang)
        headers = dict(rule.headers) if rule else {}
        if channel == "email":
            if status < 300:
                return status, {"X-Message-Id": provider_id}, b""
            errors = {"errors": [{"message": f"fake SendGrid error {status}", "field": None}]}
            return status, headers, json.dumps(errors).encode()
        if status < 300:
            body: dict[str, Any] = {"sid": provider_id, "status": "queued", "to": parsed["to"],
                    "from": parsed["sender"], "body": parsed["text"],
                    "account_sid": parsed["custom_args"].get("account_sid"),
                    "num_segments": "1", "direction": "outbound-api"}
            return status, headers, json.dumps(body).encode()
        code = 20429 if status == 429 else 21211 if status == 400 else 20003 if status == 401 \
            else 20500
        body = {"code": code, "message": f"fake Twilio error {status}", "status": status,
                "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return status, headers, json.dumps(body).encode()


    def _twilio_list(self, sid: str, query: dict[str, list[str]]) -> bytes:
        """Twilio's message list: To, From and DateSent> (a GMT day) filters, newest first."""
        wanted = {k: v[0] for k, v in query.items()}
        with self._lock:
            self.lookups.append(wanted)
            taken = [r for r in self.requests if r.channel == "sms" and r.status < 300]
        since = wanted.get("DateSent>", "")[:10]
        found = [r for r in reversed(taken)
                 if r.to == wanted.get("To", r.to) and r.sender == wanted.get("From", r.sender)
                 and _gmt(r.at).date().isoformat() >= since]
        uri = f"/2010-04-01/Accounts/{sid}/Messages.json"
        return json.dumps({
            "messages": [{"sid": r.provider_id, "account_sid": sid, "to": r.to, "from": r.sender,
                          "body": r.text, "status": "sent", "direction": "outbound-api",
                          "num_segments": "1", "api_version": "2010-04-01",
                          "date_created": format_datetime(_gmt(r.at), usegmt=True),
                          "date_sent": format_datetime(_gmt(r.at), usegmt=True),
                          "date_updated": format_datetime(_gmt(r.at), usegmt=True)}
                         for r in found],
            "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None,
            "page": 0, "page_size": len(found), "start": 0, "end": max(0, len(found) - 1),
            "uri": uri}).encode()


def _gmt(at: float) -> datetime:
    return datetime.fromtimestamp(int(at), timezone.utc)


def _sendgrid(payload: dict[str, Any], authorization: str) -> dict[str, Any]:
    personalization = payload["personalizations"][0]
    content = {c["type"]: c["value"] for c in payload.get("content", [])}
    return {"to": personalization["to"][0]["email"], "subject": payload.get("subject", ""),
            "text": content.get("text/plain", ""), "html": content.get("text/html", ""),
            "sender": payload["from"]["email"],
            "custom_args": payload.get("custom_args") or personalization.get("custom_args") or {},
            "authorization": authorization}


def _twilio(form: dict[str, list[str]], sid: str, authorization: str) -> dict[str, Any]:
    return {"to": form.get("To", [""])[0], "subject": "", "text": form.get("Body", [""])[0],
            "html": "", "sender": form.get("From", [""])[0],
            "custom_args": {"account_sid": sid}, "authorization": authorization}


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def handle(self) -> None:
            with fake._lock:
                fake.open_connections += 1
            try:
                super().handle()
            finally:
                with fake._lock:
                    fake.open_connections -= 1

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            twilio = TWILIO_PATH.match(url.path)
            if not twilio:
                self._reply(404, {}, b'{"message": "not found"}')
            elif not self.headers.get("Authorization"):
                self._reply(401, {}, b'{"message": "authorization required"}')
            else:
                self._reply(200, {}, fake._twilio_list(twilio["sid"], parse_qs(url.query)))

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if len(raw) < length:
                return  # the sender died mid-request: a provider never sees such a message
            authorization = self.headers.get("Authorization", "")
            twilio = TWILIO_PATH.match(self.path)
            if self.path == SENDGRID_PATH:
                channel, parsed = "email", _sendgrid(json.loads(raw), authorization)
            elif twilio:
                channel = "sms"
                parsed = _twilio(parse_qs(raw.decode()), twilio["sid"], authorization)
            else:
                self._reply(404, {}, b'{"message": "not found"}')
                return
            if not authorization:
                self._reply(401, {}, b'{"message": "authorization required"}')
                return
            self._reply(*fake._answer(channel, parsed))

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a time-out test)

    return Handler
