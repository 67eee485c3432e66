"""The whole system over HTTP: the client the end-to-end and security tiers share.

The system itself is the session fixture `stack` (tests/conftest.py), started
the way `make run` starts it (deploy.stack) on its own ports and data folder.
"""
from __future__ import annotations

from typing import Any

import requests

from deploy.stack import Stack
from shared import auth

ORG = "e2e-clinic"


class Client:
    """A thin HTTP client for one organisation and role set."""

    def __init__(self, stack: Stack, org: str = ORG, roles: tuple[str, ...] = ("agent", "manager")):
        self.stack = stack
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {auth.issue(org, list(roles))}"

    def get(self, service: str, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.stack.url(service) + path, timeout=10, **kw)

    def post(self, service: str, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.stack.url(service) + path, json=json, timeout=10, **kw)

    def put(self, service: str, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.session.put(self.stack.url(service) + path, json=json, timeout=10, **kw)

    def patch(self, service: str, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.session.patch(self.stack.url(service) + path, json=json, timeout=10, **kw)
