"""The legal clocks of a dispute: days to accept, to mediate, and to go to arbitration."""

from __future__ import annotations

from datetime import date, datetime

from contracts import dispute as d
from services.common.calendar import OFFICIAL, WorkCalendar, add_years, end_of_day
from services.common.domain import Invalid, Refused, check_day
from services.mediation.state import RUNNING, Dispute

ACCEPTANCE_WORKING_DAYS = (
    3  # MOHRSS 2011 provisions: decide on an application within 3 working days
)
MEDIATION_DAYS = 15  # LDMAL Art. 14 / MOHRSS: mediation ends within 15 days of acceptance
MAX_EXTENSION_DAYS = 15


def one_year_after(day: date, calendar: WorkCalendar = OFFICIAL) -> date:
    """Return the end of a one-year period from `day`, moved off a closing rest day (Art. 27)."""
    # 29 February: a year later the month has no such day, so its last day.
    return calendar.add_days(add_years(day, 1), 0)


def check_known_since(known: date, today: date) -> None:
    """Refuse a date of knowing the infringement in the future, or years before the case."""
    check_day(known, today, "the date the worker knew of the infringement", ahead=False)


def acceptance(
    state: Dispute, known: date | None, today: date, calendar: WorkCalendar
) -> d.DisputeAccepted:
    """Accept the application: the mediation period starts, and a referral's limitation."""
    if known is not None and state.known_since is not None and known != state.known_since:
        raise Invalid(f"the application already records when the worker knew ({state.known_since})")
    completed = None
    limitation = None
    if state.known_since is None:
        if known is None:
            raise Invalid(
                "missing facts: a referred dispute is accepted with the date the worker knew"
                " or should have known of the infringement (known_since)"
            )
        check_known_since(known, today)
        completed, limitation = known, one_year_after(known, calendar)
    return d.DisputeAccepted(
        accepted_on=today,
        mediation_deadline=calendar.add_days(today, MEDIATION_DAYS),
        known_since=completed,
        limitation_date=limitation,
    )


def extension(
    state: Dispute, days: int, consent: tuple[d.Party, ...], today: date, calendar: WorkCalendar
) -> d.DisputeExtended:
    """Grant the one extension of the mediation period, counted from the acceptance."""
    if state.extended_days is not None:
        raise Refused(f"the mediation period of {state.case_id} was already extended once")
    if days > MAX_EXTENSION_DAYS:
        raise Refused(f"an extension is at most {MAX_EXTENSION_DAYS} days, not {days}")
    missing = [party for party in ("applicant", "respondent") if party not in consent]
    if missing:
        raise Invalid(f"an extension needs both parties' consent; missing: {', '.join(missing)}")
    require_within_period(state, today, "extend it")
    assert state.accepted_on is not None, "a running mediation was accepted"
    return d.DisputeExtended(
        days=days,
        consent=tuple(consent),
        mediation_deadline=calendar.add_days(state.accepted_on, MEDIATION_DAYS + days),
    )


def require_within_period(state: Dispute, today: date, what: str) -> None:
    """Refuse `what` once the mediation period has ended."""
    if state.deadline is not None and today > state.deadline:
        raise Refused(f"the mediation period ended on {state.deadline}; too late to {what}")


def recounted(state: Dispute, ended: date, calendar: WorkCalendar) -> date:
    """The limitation date once mediation ends: the application interrupted it (Art. 27)."""
    recount = one_year_after(ended, calendar)
    if state.limitation_date is not None and state.limitation_date > recount:
        return state.limitation_date
    return recount


def due_commands(state: Dispute, now: datetime) -> list[str]:
    """Return the timer commands whose deadline has passed at `now`."""
    due: list[str] = []
    if (
        state.status == "applied"
        and not state.acceptance_overdue
        and now >= end_of_day(state.acceptance_due)
    ):
        due.append("mark_acceptance_overdue")
    if state.status in RUNNING and state.deadline and now >= end_of_day(state.deadline):
        due.append("mark_deadline_passed")
    return due
