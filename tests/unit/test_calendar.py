"""Legal day counting on China's official calendar."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from services.common.calendar import OFFICIAL, WorkCalendar


def test_working_days_skip_the_weekend() -> None:
    # Friday 20 Nov 2026 + 1 working day = Monday 23 Nov.
    assert OFFICIAL.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)
    assert OFFICIAL.add_working_days(date(2026, 11, 20), 3) == date(2026, 11, 25)


def test_working_days_skip_the_national_day_holiday() -> None:
    # 30 Sep 2026 + 1 working day lands after the 1-7 October Golden Week.
    assert OFFICIAL.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)


def test_calendar_days_ending_on_a_rest_day_move_to_the_next_working_day() -> None:
    # 15 days from 20 Sep 2026 is 5 Oct, inside the holiday: the period ends on 8 Oct.
    assert OFFICIAL.add_days(date(2026, 9, 20), 15) == date(2026, 10, 8)
    # 15 days from 2 Nov 2026 is Tuesday 17 Nov, a working day.
    assert OFFICIAL.add_days(date(2026, 11, 2), 15) == date(2026, 11, 17)


def test_unit_overrides_win() -> None:
    cal = WorkCalendar(extra_holidays=[date(2026, 11, 23)], extra_workdays=[date(2026, 11, 22)])
    assert not cal.is_working_day(date(2026, 11, 23))
    assert cal.is_working_day(date(2026, 11, 22))


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), st.integers(1, 30))
def test_n_working_days_lands_on_a_working_day_after_start(start: date, n: int) -> None:
    end = OFFICIAL.add_working_days(start, n)
    assert end > start and OFFICIAL.is_working_day(end)
