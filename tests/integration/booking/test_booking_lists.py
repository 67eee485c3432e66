"""Booking's lists answer the one envelope `{items, next_cursor}`, keyset-paged by
`limit` and `cursor` (shared/paging.py): every row once, also while rows are added."""
from __future__ import annotations

from typing import Any

import pytest
from booking_http_support import Api


def walk(api: Api, path: str, limit: int, first: dict[str, Any] | None = None) -> list[str]:
    """The names on every page, `limit` at a time, from the start or on from page `first`."""
    names = [e["name"] for e in first["items"]] if first else []
    cursor = first["next_cursor"] if first else None
    while first is None or cursor:
        answer = api.get(f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.get_json()
        page = first = answer.get_json()
        assert set(page) == {"items", "next_cursor"} and len(page["items"]) <= limit
        names += [e["name"] for e in page["items"]]
        cursor = page["next_cursor"]
    return names


def test_the_clients_page_two_at_a_time_each_once_in_name_order(manager: Api) -> None:
    for name in ("Erin", "Bob", "Dana", "Alice", "Carl"):
        assert manager.post("/v1/clients", {"name": name}).status_code == 201
    assert walk(manager, "/v1/clients", 2) == ["Alice", "Bob", "Carl", "Dana", "Erin"]
    # A client added between two pages: the next page goes on after the last one shown
    first = manager.get("/v1/clients?limit=2").get_json()
    assert [e["name"] for e in first["items"]] == ["Alice", "Bob"]
    for name in ("Aaron", "Zoe"):
        assert manager.post("/v1/clients", {"name": name}).status_code == 201
    assert walk(manager, "/v1/clients", 2, first) == [
        "Alice", "Bob", "Carl", "Dana", "Erin", "Zoe"]   # Aaron sorts before the cursor


def test_every_directory_list_is_the_envelope(manager: Api, seed: Any) -> None:
    for path in ("/v1/services", "/v1/resources", "/v1/clients"):
        page = manager.get(path).get_json()
        assert set(page) == {"items", "next_cursor"} and page["items"], path
    widget = manager.as_(roles=("widget",)).get("/v1/services").get_json()
    assert set(widget) == {"items", "next_cursor"}
    assert set(widget["items"][0]) == {"id", "name", "duration_minutes"}


@pytest.mark.parametrize("cursor", ["nonsense", "WyJ4Il0", "WyJ4IiwgInkiXQ", "x" * 501])
def test_a_cursor_this_api_did_not_hand_out_is_422_naming_cursor(manager: Api,
                                                                 cursor: str) -> None:
    for path in ("/v1/clients", "/v1/services", "/v1/events"):
        answer = manager.as_(roles=("manager", "auditor")).get(f"{path}?cursor={cursor}")
        assert answer.status_code == 422, (path, answer.get_json())
        assert answer.content_type == "application/problem+json"
        assert list(answer.get_json()["errors"]) == ["cursor"]
