"""Legal day counting on China's official calendar: holidays and adjusted working weekends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The first instant after the calendar's last day: a deadline on that day never passes.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def shifted(day: date, days: int) -> date:
    """Return `day` moved by `days`, held at the calendar's first or last day instead of past it.

    Records already in the log may name any date; counting from one must never fail.
    """
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def add_years(day: date, years: int) -> date:
    """Return the same day `years` later (earlier if negative); 29 February becomes the 28th."""
    year = day.year + years
    if year > date.max.year:
        return date.max
    if year < date.min.year:
        return date.min
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February, in a year without one
        return day.replace(year=year, day=28)


class WorkCalendar:
    """Which days are working days; unit overrides win over the official calendar."""

    def __init__(
        self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> None:
        self._holidays = frozenset(extra_holidays)
        self._workdays = frozenset(extra_workdays)

    def is_working_day(self, day: date) -> bool:
        """Return whether `day` is a working day."""
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            # Years the published calendar does not cover yet fall back to Monday-Friday.
            return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """Return the n-th working day after `start` ("within N working days")."""
        day = start
        left = n
        while left > 0 and day < date.max:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def add_days(self, start: date, n: int) -> date:
        """Return the end of an "N days" period: calendar days, moved off a closing rest day."""
        day = shifted(start, n)
        while not self.is_working_day(day) and day < date.max:
            day += timedelta(days=1)
        return day


OFFICIAL = WorkCalendar()


def local_date(moment: datetime) -> date:
    """Return the date in China of an aware timestamp (the calendar's end, at its very edges)."""
    try:
        return moment.astimezone(SHANGHAI).date()
    except OverflowError:
        return date.min if moment.year == date.min.year else date.max


def end_of_day(day: date) -> datetime:
    """Return the first instant after `day` ends in China, when a deadline on it has passed."""
    if day >= date.max:
        return END_OF_TIME
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI)
