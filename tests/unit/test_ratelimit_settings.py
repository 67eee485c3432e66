"""The rate limit settings an operator writes (README, Security): read as meant,
or refused at start naming the wrong part."""
from __future__ import annotations

import pytest

from shared import config
from shared.ratelimit import parse


def test_the_defaults_and_an_operators_spellings_are_read_as_meant():
    assert [(r.count, r.period) for r in parse(config.require("RATE_LIMIT_PER_TOKEN"))] == [
        (120, 60.0), (1200, 3600.0)]
    assert [(r.count, r.period) for r in parse(" 5/10seconds,3 / day ")] == [(5, 10.0),
                                                                           (3, 86400.0)]
    assert parse("off") == parse("OFF") == ()


@pytest.mark.parametrize("spec", ["ten/minute", "120/fortnight", "0/minute", "120/minute,"])
def test_a_misspelt_limit_is_refused_naming_it(spec):
    with pytest.raises(ValueError, match="not a rate"):
        parse(spec)
