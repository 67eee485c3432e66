"""Shared fixtures: real PostgreSQL and a real Kafka-protocol broker, resolved
once per test session by shared.infra (explicit settings -> testcontainers ->
embedded)."""
from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("JWT_SECRET", "test-secret-of-at-least-32-bytes!")
os.environ.setdefault("LINK_SIGNING_KEY", "test-link-key")

from deploy.stack import APIS, Stack  # noqa: E402
from shared import infra as infra_module  # noqa: E402
from shared.kafka import ensure_topics  # noqa: E402

_counter = itertools.count()


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[infra_module.Infrastructure]:
    # Under pytest's temporary folder: removed after a passing run, kept after a failing one.
    data_dir = tmp_path_factory.mktemp("infra")
    resolved = infra_module.resolve(data_dir, kafka_port=infra_module.free_port())
    ensure_topics(resolved.kafka_bootstrap_servers)
    yield resolved
    # Clients some tests leave open would log every failed reconnect from here on.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    resolved.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole system, started the way `make run` starts it, once per session
    (end-to-end and security tiers), on its own ports and data folder."""
    ports = {service: infra_module.free_port() for service in APIS}
    system = Stack(tmp_path_factory.mktemp("stack"), ports=ports,
                   kafka_port=infra_module.free_port(),
                   extra_env={"JWT_SECRET": os.environ["JWT_SECRET"],
                              "LINK_SIGNING_KEY": os.environ["LINK_SIGNING_KEY"],
                              # Every test client calls from 127.0.0.1, and the fuzzer writes
                              # faster than any person: limits have their own tests.
                              "RATE_LIMIT_PER_TOKEN": "off", "RATE_LIMIT_PER_IP": "off",
                              "AUDIT_CHECKPOINT_INTERVAL": "1"})
    system.start()
    yield system
    system.stop()


@pytest.fixture
def fresh_db(infra: infra_module.Infrastructure, request: pytest.FixtureRequest) -> str:
    """A new, empty database for one test."""
    name = f"t_{request.node.name[:30].lower()}_{os.getpid()}_{next(_counter)}"
    name = "".join(c if c.isalnum() else "_" for c in name)
    return infra.database(name)


@pytest.fixture
def unique_topic(infra: infra_module.Infrastructure, request: pytest.FixtureRequest) -> str:
    """A new topic (`kafka.PARTITIONS` partitions) for one test."""
    name = f"test.{request.node.name[:40]}.{next(_counter)}"
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    ensure_topics(infra.kafka_bootstrap_servers, [name])
    return name
