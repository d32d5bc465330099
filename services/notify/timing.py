"""When a message goes out: reminder days counted back in working days, and quiet hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.common.calendar import OFFICIAL, SHANGHAI, WorkCalendar, end_of_day, shifted

# Reminders go out at the start of the working day in China.
MORNING = time(9, 0)


def working_days_before(deadline: date, lead: int, calendar: WorkCalendar = OFFICIAL) -> date:
    """Return the `lead`-th working day before `deadline` (the deadline itself for 0)."""
    day, left = deadline, lead
    while left > 0 and day > date.min:
        day = shifted(day, -1)
        if calendar.is_working_day(day):
            left -= 1
    return day


def reminder_at(
    deadline: date, lead: int, now: datetime, calendar: WorkCalendar = OFFICIAL
) -> datetime | None:
    """Return when a reminder of `deadline` goes out, seen at `now`; None once it has passed.

    It goes out on the morning of the working day `lead` working days before; if that is
    already behind `now`, at once.
    """
    if now >= end_of_day(deadline):
        return None
    day = working_days_before(deadline, lead, calendar)
    try:
        planned = datetime.combine(day, MORNING, tzinfo=SHANGHAI)
    except OverflowError:
        return now
    return max(planned, now)


def in_quiet_hours(moment: datetime, start: int, end: int) -> bool:
    """Return whether a moment falls in the local quiet hours [start, end), over midnight too."""
    hour = moment.astimezone(SHANGHAI).hour
    if start == end:
        return False
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def quiet_until(moment: datetime, start: int, end: int) -> datetime:
    """Return the first instant after the quiet hours that hold `moment` (itself if none hold)."""
    if not in_quiet_hours(moment, start, end):
        return moment
    local = moment.astimezone(SHANGHAI)
    wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake
