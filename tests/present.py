"""`present(x)`: x, which the test needs to exist (AssertionError when it is None).

For results typed `T | None` (a view's row, a status, a rendered message): the test
asserts it is there, and the type checker knows it from then on."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None, what: str = "the value") -> T:
    assert value is not None, f"{what} is missing"
    return value
