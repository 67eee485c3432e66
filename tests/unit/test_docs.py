"""The README a newcomer follows stays true to the code."""
from __future__ import annotations

from pathlib import Path

import yaml

from deploy.stack import APIS
from shared import config, kafka

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_readme_lists_every_setting_with_its_default():
    assert config.markdown_table() in README


def test_the_readme_gives_the_two_commands_and_every_port():
    assert "make run" in README and "make test" in README
    for port in APIS.values():
        assert f"127.0.0.1:{port}" in README


def test_the_asyncapi_document_lists_every_topic():
    spec = yaml.safe_load((ROOT / "docs/asyncapi.yaml").read_text())
    addresses = {channel["address"] for channel in spec["channels"].values()}
    assert set(kafka.TOPICS) <= addresses
