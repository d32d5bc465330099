"""Legal day counting on China's official calendar: holidays and adjusted working weekends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
        while left > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def add_days(self, start: date, n: int) -> date:
        """Return the end of an "N days" period: calendar days, moved off a closing rest day."""
        day = start + timedelta(days=n)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


OFFICIAL = WorkCalendar()


def local_date(moment: datetime) -> date:
    """Return the date in China of an aware timestamp."""
    return moment.astimezone(SHANGHAI).date()


def end_of_day(day: date) -> datetime:
    """Return the first instant after `day` ends in China, when a deadline on it has passed."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI)
