"""The one list envelope (shared/paging.py): cursors round-trip the sort key, a
cursor that was not handed out is refused naming `cursor`, pages end without an
empty last one."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from shared import paging

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_a_cursor_gives_back_the_key_it_was_made_from() -> None:
    cursor = paging.encode((AT, "appt-1"))
    assert "=" not in cursor and paging.decode(cursor, (datetime, str)) == (AT, "appt-1")
    assert paging.decode(paging.encode((42,)), (int,)) == (42,)
    one = uuid.uuid4()
    assert paging.decode(paging.encode(("Dr A", one)), (str, uuid.UUID)) == ("Dr A", one)


@pytest.mark.parametrize(("cursor", "kinds"), [
    ("!!!", (int,)), ("e30", (int,)),                      # not base64 JSON; not a list
    (paging.encode(("42",)), (int,)), (paging.encode((True,)), (int,)),
    (paging.encode((1, 2)), (int,)),                        # another key's length
    (paging.encode((-1,)), (int,)), (paging.encode((2 ** 63,)), (int,)),  # not a bigint id
    (paging.encode(("2026-11-23T09:30:00",)), (datetime,)),  # a time without an offset
    (paging.encode(("not a time",)), (datetime,)),
    (paging.encode(("not-a-uuid",)), (uuid.UUID,)),
])
def test_a_cursor_of_another_shape_is_refused(cursor: str, kinds: tuple[type, ...]) -> None:
    with pytest.raises(ValueError):
        paging.decode(cursor, kinds)


def test_the_query_schema_loads_the_key_and_names_cursor_when_it_is_bad() -> None:
    query = paging.query(datetime, str)()
    assert query.load({}) == {"limit": paging.DEFAULT_LIMIT}
    loaded = query.load({"limit": "2", "cursor": paging.encode((AT, "x"))})
    assert loaded == {"limit": 2, "cursor": (AT, "x")}
    for bad in ({"cursor": "nonsense"}, {"cursor": "x" * (paging.MAX_CURSOR + 1)}):
        with pytest.raises(ValidationError) as refused:
            query.load(bad)
        assert list(refused.value.messages) == ["cursor"]
    with pytest.raises(ValidationError) as refused:
        query.load({"limit": paging.MAX_LIMIT + 1})
    assert list(refused.value.messages) == ["limit"]


def test_pages_walk_every_row_once_and_end_on_null() -> None:
    rows = [{"id": i} for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        after: tuple[int, ...] | None = paging.decode(cursor, (int,)) if cursor else None
        fetched = [r for r in rows if after is None or (r["id"],) > after][:3]  # limit + 1
        answer = paging.page(fetched, 2, key=lambda r: (r["id"],))
        seen += answer["items"]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == rows and pages == 3
    assert paging.page([], 2, key=lambda r: (r["id"],)) == {"items": [], "next_cursor": None}
    assert paging.whole([1, 2]) == {"items": [1, 2], "next_cursor": None}
