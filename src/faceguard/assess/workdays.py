"""Chinese working days, for the 30-working-day filing deadline (R15; FRM 15).

A working day is a day on which the State Council's holiday schedule has people at work:
Monday to Friday unless it is a public holiday, plus the weekend days declared working days
to make up for a holiday (调休, e.g. Sunday 2025-09-28 and Saturday 2025-10-11 around
National Day 2025).

Source: the PyPI package ``chinesecalendar`` (module ``chinese_calendar``), which transcribes
the State Council General Office's yearly notices on holiday arrangements
(国务院办公厅关于部分节假日安排的通知). Version 1.11.0 covers the years 2004 to 2026; the
range is read from the installed package at call time (``covered_years``), so upgrading the
package (``pip install -U chinesecalendar``) extends it without a change here.

Outside the covered years there is no guessing: a deadline cannot be computed from weekdays
alone (a make-up Saturday or a moved holiday changes it), so every function here raises
``FaceguardError`` (rule R15) naming the year and the covered range.
"""

from __future__ import annotations

from datetime import date, timedelta

from faceguard.errors import FaceguardError

# ``chinese_calendar`` is imported where it is used: the package is loaded by every command
# that touches an assessment, and only a filing deadline needs the calendar.


def covered_years() -> tuple[int, int]:
    """First and last year the installed ``chinese_calendar`` data covers (inclusive)."""
    from chinese_calendar import constants

    years = [day.year for day in constants.holidays]
    return min(years), max(years)


def is_working_day(day: date) -> bool:
    """True when ``day`` is a working day in mainland China (holidays and 调休 counted)."""
    first, last = covered_years()
    if not first <= day.year <= last:
        raise FaceguardError(
            f"no Chinese holiday schedule for {day.year}: the installed chinesecalendar data "
            f"covers {first}-{last}; upgrade it (pip install -U chinesecalendar) once the "
            "State Council has published that year's schedule",
            rule="R15",
        )
    import chinese_calendar

    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: date, n: int) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself is day 0, not counted).

    ``add_working_days(date(2025, 9, 26), 1)`` is Sunday 2025-09-28 (a make-up working day).
    ``n`` must be at least 1.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    day = start
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days in ``(start, end]``; negative when ``end`` is before ``start``."""
    if end < start:
        return -working_days_between(end, start)
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
