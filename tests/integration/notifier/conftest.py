"""Fixtures for the notifier on the real broker and PostgreSQL, with the real
SendGrid and Twilio SDKs pointed at tests/fakes/providers.py."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from services.notifier.bootstrap import Settings
from services.notifier.entrypoints.consumer import NotifierProcess
from shared import kafka
from shared.envelope import CloudEvent
from tests.fakes.providers import FakeProviders


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def provider_env(fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Credentials set: the notifier uses the real SDKs, pointed at the fake."""
    env = {"SENDGRID_API_KEY": "SG.test-key", "SENDGRID_HOST": fake.url,
           "TWILIO_ACCOUNT_SID": "ACtest", "TWILIO_AUTH_TOKEN": "test-token",
           "TWILIO_BASE_URL": fake.url, "EMAIL_FROM": "appointments@acme.example",
           "SMS_FROM": "+15005550006"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def settings(infra, fresh_db: str, unique_topic: str) -> Settings:
    """Small back-off, short time-outs and leases: failures resolve in seconds."""
    topics = [f"{unique_topic}.notifications", f"{unique_topic}.notifications.dlq",
              f"{unique_topic}.directory"]
    kafka.ensure_topics(infra.kafka_bootstrap_servers, topics)
    return Settings(database_url=fresh_db, bootstrap_servers=infra.kafka_bootstrap_servers,
                    topic=unique_topic, directory_topic=topics[2],
                    group_id=f"notifier-{uuid.uuid4().hex[:8]}",
                    events_topic=topics[0], poll_interval=0.05,
                    backoff_base=0.05, backoff_cap=1.0, send_timeout=1.0, lease=3.0)


@pytest.fixture
def start_notifier(provider_env: dict[str, str]) -> Iterator[Callable[..., NotifierProcess]]:
    """Start the consumer + senders + timer worker + publisher as threads (on `clock`
    when given); stopped after the test."""
    started: list[NotifierProcess] = []

    def start(settings: Settings, clock: Callable[[], datetime] | None = None
              ) -> NotifierProcess:
        process = NotifierProcess(replace(settings, clock=clock) if clock else settings).start()
        started.append(process)
        return process

    yield start
    for process in started:
        if not process.stopping.is_set():
            process.stop()
        process.pool.close()  # only ours: other suites' pools stay open


@pytest.fixture
def publish(infra) -> Iterator[Callable[[str, list[CloudEvent]], None]]:
    producer = kafka.producer(infra.kafka_bootstrap_servers)

    def send(topic: str, events: list[CloudEvent]) -> None:
        for event in events:
            producer.send(topic, key=event.subject.encode(), value=event.to_json()).get(10)

    yield send
    producer.close()
