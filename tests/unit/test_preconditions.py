"""The one If-Match parser, as booking and workflow both read it."""
from __future__ import annotations

import pytest
from flask import Flask

from shared.errors import Invalid
from shared.preconditions import if_match

APP = Flask(__name__)


def parsed(header: str | None) -> int | None:
    headers = {} if header is None else {"If-Match": header}
    with APP.test_request_context(headers=headers):
        return if_match()


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("*", None), ('"4"', 4), ('W/"4"', 4), (' "12" ', 12), ("7", 7)])
def test_an_etag_names_the_expected_version(header, expected):
    assert parsed(header) == expected


@pytest.mark.parametrize("header", ["yesterday", '"-1"', '"4", "5"', '"4.0"'])
def test_anything_else_is_invalid_naming_the_header(header):
    with pytest.raises(Invalid) as caught:
        parsed(header)
    assert "If-Match" in caught.value.extra["errors"]
