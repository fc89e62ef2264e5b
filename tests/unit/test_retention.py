"""Rounding a reduced card's birth date up to the next quarter start keeps every «youth» count
(birth_date > D − 35 years, services.membership.counts) exact for reporting days D that are
quarter starts: checked for every birth date of six years against every such day around them."""

from datetime import date, timedelta

import pytest

from services.membership.counts import _years_before
from services.membership.retention import quarter_ceil


def _quarter_starts(first: int, last: int) -> list[date]:
    return [date(y, m, 1) for y in range(first, last + 1) for m in (1, 4, 7, 10)]


def test_quarter_ceil_examples() -> None:
    assert quarter_ceil(date(1990, 1, 1)) == date(1990, 1, 1)
    assert quarter_ceil(date(1990, 1, 2)) == date(1990, 4, 1)
    assert quarter_ceil(date(1990, 3, 31)) == date(1990, 4, 1)
    assert quarter_ceil(date(1990, 12, 31)) == date(1991, 1, 1)
    assert quarter_ceil(date(1992, 2, 29)) == date(1992, 4, 1)


def test_youth_counts_unchanged_for_quarter_start_days() -> None:
    births = [date(1986, 1, 1) + timedelta(days=i) for i in range(6 * 366)]
    changed = 0
    for day in _quarter_starts(2020, 2028):
        young_since = _years_before(day, 35)
        for b in births:
            changed += (b > young_since) != (quarter_ceil(b) > young_since)
    assert changed == 0


def test_other_days_may_differ() -> None:
    """The documented limit: a day that is not a quarter start can count differently."""
    day = date(2025, 2, 15)
    b = date(1990, 2, 10)  # 35 on 10 Feb 2025: not young on the 15th, rounded to 1 Apr: young
    young_since = _years_before(day, 35)
    assert (b > young_since) != (quarter_ceil(b) > young_since)


@pytest.mark.parametrize("b", [date(1990, 1, 1), date(1990, 5, 17), date(1999, 11, 30)])
def test_only_the_quarter_is_kept(b: date) -> None:
    r = quarter_ceil(b)
    assert r >= b and (r - b).days < 93 and r.day == 1 and r.month in (1, 4, 7, 10)
