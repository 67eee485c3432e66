"""Every service's bootstrap has the same shape (issue 9, item 6), so a newcomer knows where
to look: a frozen `Settings` with `from_env(**overrides)`, and `wire(settings)` annotated to
return the service's typed, frozen container of wired parts."""
from __future__ import annotations

import dataclasses
import importlib
import typing

import pytest

SERVICES = ("booking", "workflow", "notifier", "projections")


def frozen_dataclass(cls: type) -> bool:
    return dataclasses.is_dataclass(cls) and typing.cast(typing.Any, cls).__dataclass_params__.frozen


@pytest.mark.parametrize("service", SERVICES)
def test_each_bootstrap_turns_settings_into_a_typed_container_of_parts(service: str) -> None:
    module = importlib.import_module(f"services.{service}.bootstrap")
    settings = module.Settings
    assert frozen_dataclass(settings)
    assert isinstance(vars(settings)["from_env"], classmethod)
    hints = typing.get_type_hints(module.wire)
    assert list(hints) == ["settings", "return"] and hints["settings"] is settings
    parts = hints["return"]
    assert parts.__name__ == f"{service.capitalize()}Parts"
    assert frozen_dataclass(parts)
    assert typing.get_type_hints(parts)["settings"] is settings


@pytest.mark.parametrize("service", SERVICES)
def test_settings_come_from_the_environment_and_overrides_win(
        service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"services.{service}.bootstrap")
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", f"postgresql://env/{service}")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.env:9092")
    from_env = module.Settings.from_env()
    assert (from_env.database_url, from_env.bootstrap_servers) == (
        f"postgresql://env/{service}", "broker.env:9092")
    given = module.Settings.from_env(database_url="postgresql://given/db", bootstrap_servers=None)
    assert (given.database_url, given.bootstrap_servers) == ("postgresql://given/db",
                                                             "broker.env:9092")
