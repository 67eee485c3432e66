"""The workflow API on a real PostgreSQL (one fresh database per test)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from services.workflow import bootstrap
from services.workflow.entrypoints.http import create_app


@pytest.fixture
def client(fresh_db: str) -> Iterator[FlaskClient]:
    app = create_app(fresh_db)
    yield app.test_client()
    bootstrap.close(fresh_db)
