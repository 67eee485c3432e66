"""End-to-end tier: the whole system (the session's `stack`, tests/conftest.py) over HTTP."""
from __future__ import annotations

import pytest

from deploy.stack import Stack
from tests.system import ORG, Client  # noqa: F401 - the e2e tests import them
from tests.waiting import wait_until as eventually  # noqa: F401 - the e2e tests import it


@pytest.fixture
def client(stack: Stack) -> Client:
    return Client(stack)
