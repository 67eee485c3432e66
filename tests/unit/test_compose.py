"""No Docker engine runs here, so the compose file is checked against the
services' own settings and the processes `make run` starts."""
from __future__ import annotations

from pathlib import Path

import yaml

from deploy.stack import APIS, WORKERS
from shared import config

ROOT = Path(__file__).resolve().parents[2]
compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
services = compose["services"]


def test_every_process_of_make_run_is_a_compose_service():
    assert set(APIS) | set(WORKERS) | {"postgres", "kafka"} == set(services)


def test_every_required_setting_is_set_for_every_app_service():
    required = [name for name, (default, _) in config.SETTINGS.items()
                if default is None and (name.endswith("_DATABASE_URL") or name.startswith("KAFKA_"))]
    for name in set(APIS) | set(WORKERS):
        env = services[name]["environment"]
        missing = [r for r in required if not env.get(r)]
        assert not missing, f"{name} lacks {missing}"
        assert set(env) <= set(config.SETTINGS) | {"PORT"}, f"{name} sets unknown variables"


def test_each_api_listens_on_its_own_port_and_publishes_it():
    published = []
    for name, port in APIS.items():
        assert services[name]["environment"]["PORT"] == str(port)
        published += [p.split(":")[0] for p in services[name]["ports"]]
        assert f"services.{name}.entrypoints.http:create_app()" in services[name]["command"]
    assert len(published) == len(set(published))


def test_workers_run_the_modules_make_run_runs():
    for name, argv in WORKERS.items():
        assert services[name]["command"][1:] == argv


def test_kafka_is_the_official_image_in_kraft_mode_and_each_database_is_created():
    assert services["kafka"]["image"].startswith("apache/kafka")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    init = (ROOT / "deploy/postgres-init.sql").read_text()
    for service in config.SERVICES:
        assert f"CREATE DATABASE {service};" in init
        assert services["booking"]["environment"][f"{service.upper()}_DATABASE_URL"].endswith(service)
