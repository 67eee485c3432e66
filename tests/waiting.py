"""Waiting for something that happens asynchronously (a consumer, a sender, a
process), bounded in time: the one polling loop every test tier uses."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def first_within(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """`check()`'s first truthy result, or its last (falsy) one after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last or time.monotonic() >= deadline:
            return last
        time.sleep(interval)


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "",
               interval: float = 0.1) -> Any:
    """`check()`'s first truthy result; AssertionError (with the last result) after `timeout`."""
    last = first_within(check, timeout, interval)
    if not last:
        raise AssertionError(f"not true within {timeout}s: {what or check}; last result: {last!r}")
    return last
