"""The whole system, started the way `make run` starts it (deploy.stack),
on its own ports and data folder so it can run beside a developer's stack."""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from deploy.stack import APIS, Stack
from shared import auth
from shared import infra as infra_module

ORG = "e2e-clinic"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    ports = {service: infra_module.free_port() for service in APIS}
    system = Stack(Path(tempfile.mkdtemp(prefix="appt-e2e-")), ports=ports,
                   kafka_port=infra_module.free_port(),
                   extra_env={"JWT_SECRET": "test-secret-of-at-least-32-bytes!",
                              "LINK_SIGNING_KEY": "test-link-key"})
    system.start()
    yield system
    system.stop()


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


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.3) -> Any:
    """Retry `check` until it returns something truthy, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout}s; last result: {last!r}")


@pytest.fixture
def client(stack: Stack) -> Client:
    return Client(stack)
