"""Booking, workflow, notifier and projections over HTTP, as the actors of the day."""
from __future__ import annotations

from typing import Any

import requests

from shared import auth
from tests.e2e.clinic_day.expectations import Actor, DayError

DEFAULT_URLS = {"booking": "http://127.0.0.1:8001", "workflow": "http://127.0.0.1:8002",
                "notifier": "http://127.0.0.1:8003", "projections": "http://127.0.0.1:8004"}


class Api:
    def __init__(self, urls: dict[str, str], timeout: float = 20.0) -> None:
        self.urls = {k: v.rstrip("/") for k, v in urls.items()}
        self.timeout = timeout
        self.sessions: dict[Actor, requests.Session] = {}
        self.anonymous = requests.Session()
        self.position = 0

    def session(self, who: Actor) -> requests.Session:
        if who not in self.sessions:
            s = requests.Session()
            s.headers["Authorization"] = "Bearer " + auth.issue(who.org, list(who.roles),
                                                                 subject=who.subject)
            self.sessions[who] = s
        return self.sessions[who]

    def call(self, who: Actor | None, method: str, service: str, path: str,
             json: Any = None, params: dict[str, Any] | None = None,
             expect: tuple[int, ...] | None = (200,)) -> requests.Response:
        s = self.session(who) if who else self.anonymous
        url = path if path.startswith("http") else self.urls[service] + path
        r = s.request(method, url, json=json, params=params, timeout=self.timeout)
        if expect is not None and r.status_code not in expect:
            raise DayError(f"{method} {url} {json or ''} -> {r.status_code} (expected "
                           f"{expect}): {r.text[:2000]}")
        if r.ok and service == "booking" and r.headers.get("content-type", "").startswith(
                "application/json"):
            body = r.json()
            if isinstance(body, dict) and isinstance(body.get("position"), int):
                self.position = max(self.position, body["position"])
        return r

    def get(self, who: Actor, service: str, path: str, **params: Any) -> Any:
        return self.call(who, "GET", service, path, params=params or None).json()
