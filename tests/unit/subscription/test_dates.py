"""Terms in calendar months, and where a renewal starts from."""

from datetime import UTC, datetime

import pytest

from subscription.domain.dates import add_months, renewed_end


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (at(2030, 1, 15), 12, at(2031, 1, 15)),
        (at(2030, 1, 15), 24, at(2032, 1, 15)),
        (at(2030, 1, 31), 1, at(2030, 2, 28)),  # clamped to the shorter month
        (at(2032, 1, 31), 1, at(2032, 2, 29)),  # a leap year
        (at(2032, 2, 29), 12, at(2033, 2, 28)),  # the leap day a year on
        (at(2032, 2, 29), 48, at(2036, 2, 29)),
        (at(2030, 8, 31), 1, at(2030, 9, 30)),
        (at(2030, 12, 31), 1, at(2031, 1, 31)),  # across the year end
        (at(2030, 11, 30), 3, at(2031, 2, 28)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(
    start: datetime, months: int, end: datetime
) -> None:
    assert add_months(start, months) == end


def test_the_time_of_day_and_zone_are_kept() -> None:
    start = datetime(2030, 3, 31, 23, 59, 58, tzinfo=UTC)
    assert add_months(start, 1) == datetime(2030, 4, 30, 23, 59, 58, tzinfo=UTC)


def test_a_renewal_extends_from_the_current_end_when_it_is_ahead() -> None:
    assert renewed_end(at(2030, 6, 1), at(2030, 3, 10), 12) == at(2031, 6, 1)


def test_a_renewal_after_the_end_counts_from_now() -> None:
    assert renewed_end(at(2029, 6, 1), at(2030, 3, 10), 12) == at(2031, 3, 10)


def test_a_renewal_at_the_very_end_counts_from_that_moment() -> None:
    assert renewed_end(at(2030, 3, 10), at(2030, 3, 10), 24) == at(2032, 3, 10)


def test_renewing_from_a_month_end_end_date_clamps() -> None:
    assert renewed_end(at(2031, 1, 31), at(2030, 5, 1), 1) == at(2031, 2, 28)
