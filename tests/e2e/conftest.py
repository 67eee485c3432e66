"""The whole system, started the way `make run` starts it (deploy.stack),
on its own ports and data folder so it can run beside a developer's stack."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from deploy.stack import APIS, Stack
from shared import auth
from shared import infra as infra_module
from tests.waiting import wait_until as eventually  # noqa: F401 - the e2e tests import it

ORG = "e2e-clinic"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ports = {service: infra_module.free_port() for service in APIS}
    system = Stack(tmp_path_factory.mktemp("stack"), ports=ports,
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





@pytest.fixture
def client(stack: Stack) -> Client:
    return Client(stack)
