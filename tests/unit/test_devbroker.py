"""The development broker's workarounds are on only where that broker runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared import devbroker, kafka
from shared.devinfra.infra import EmbeddedBroker, Infrastructure


def test_a_real_kafka_gets_production_partitions_and_no_workarounds(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("KAFKA_PARTITIONS", raising=False)
    monkeypatch.delenv("KAFKA_DEV_BROKER_QUIRKS", raising=False)
    assert kafka.partition_count() == 12
    assert not devbroker.enabled()
    assert isinstance(devbroker.published_topics("kafka:9092"), devbroker.SteadyTopics)


def test_every_process_on_the_embedded_broker_is_told_its_quirks(tmp_path: Path):
    broker = EmbeddedBroker(9092, tmp_path / "broker.log")
    embedded = Infrastructure({}, broker.bootstrap_servers, "embedded", broker=broker)
    real = Infrastructure({}, "kafka:9092", "explicit Kafka")
    assert embedded.env()["KAFKA_DEV_BROKER_QUIRKS"] == "on"
    assert embedded.env()["KAFKA_PARTITIONS"] == str(devbroker.ON_DEMAND_PARTITIONS)
    assert "KAFKA_DEV_BROKER_QUIRKS" not in real.env() and "KAFKA_PARTITIONS" not in real.env()


def test_with_the_setting_on_the_relay_checks_its_topics(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KAFKA_DEV_BROKER_QUIRKS", "on")
    assert isinstance(devbroker.published_topics("127.0.0.1:9"), devbroker.PublishedTopics)
