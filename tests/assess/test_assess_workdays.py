"""Chinese working days for the filing deadline (R15), checked against published schedules.

2025 schedule (State Council General Office, November 2024): Spring Festival holidays
28 January - 4 February, make-up working days Sunday 26 January and Saturday 8 February;
National Day and Mid-Autumn holidays 1-8 October, make-up working days Sunday 28 September
and Saturday 11 October.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from faceguard.assess import add_working_days, covered_years, is_working_day
from faceguard.assess.workdays import working_days_between
from faceguard.errors import FaceguardError


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_covered_years_come_from_the_installed_calendar() -> None:
    first, last = covered_years()
    assert first == 2004
    assert last >= 2026


def test_national_day_2025() -> None:
    assert not any(is_working_day(d) for d in days(date(2025, 10, 1), date(2025, 10, 8)))
    assert is_working_day(date(2025, 9, 28))  # Sunday, make-up working day
    assert is_working_day(date(2025, 10, 11))  # Saturday, make-up working day
    assert date(2025, 9, 28).weekday() == 6 and date(2025, 10, 11).weekday() == 5
    assert not is_working_day(date(2025, 10, 12))  # an ordinary Sunday
    assert is_working_day(date(2025, 10, 9))


def test_spring_festival_2025() -> None:
    assert not any(is_working_day(d) for d in days(date(2025, 1, 28), date(2025, 2, 4)))
    assert is_working_day(date(2025, 1, 26))  # Sunday
    assert is_working_day(date(2025, 2, 8))  # Saturday
    assert add_working_days(date(2025, 1, 20), 10) == date(2025, 2, 8)


def test_add_working_days_counts_make_up_days_and_skips_holidays() -> None:
    assert add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Friday -> Sunday
    assert add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert add_working_days(date(2025, 10, 1), 1) == date(2025, 10, 9)  # start on a holiday
    with pytest.raises(ValueError):
        add_working_days(date(2025, 9, 30), 0)


def test_thirty_working_days_across_national_day() -> None:
    # After Monday 22 September 2025: 23-26, Sun 28, 29, 30 (7); 1-8 October off; 9, 10,
    # Sat 11 (10); then 20 weekdays from 13 October end on Friday 7 November (30).
    deadline = add_working_days(date(2025, 9, 22), 30)
    assert deadline == date(2025, 11, 7)
    assert working_days_between(date(2025, 9, 22), deadline) == 30
    weekdays_only = date(2025, 9, 22)
    for _ in range(30):
        weekdays_only += timedelta(days=1)
        while weekdays_only.weekday() >= 5:
            weekdays_only += timedelta(days=1)
    assert weekdays_only == date(2025, 11, 3)  # what ignoring the holiday would wrongly give


def test_working_days_between() -> None:
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert working_days_between(date(2025, 10, 9), date(2025, 9, 30)) == -1
    assert working_days_between(date(2025, 10, 9), date(2025, 10, 9)) == 0


def test_years_outside_the_calendar_are_an_error_naming_them() -> None:
    first, last = covered_years()
    after = date(last + 1, 3, 2)
    with pytest.raises(FaceguardError, match=f"{after.year}.*covers {first}-{last}") as info:
        is_working_day(after)
    assert info.value.rule == "R15"
    with pytest.raises(FaceguardError, match="upgrade it"):
        is_working_day(date(first - 1, 5, 6))
    # a deadline running past the last covered year cannot be computed
    with pytest.raises(FaceguardError, match=str(last + 1)):
        add_working_days(date(last, 12, 1), 30)
