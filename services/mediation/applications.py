"""Opening a dispute: an application's facts, its form and who accepts it on receipt (pure)."""

from __future__ import annotations

from contracts import dispute as d
from contracts.registry import EventPayload
from services.common.calendar import WorkCalendar, local_date
from services.common.domain import (
    Command,
    Forbidden,
    Invalid,
    Refused,
    check_not_future,
    check_opening,
)
from services.mediation.periods import (
    ACCEPTANCE_WORKING_DAYS,
    MEDIATION_DAYS,
    check_known_since,
    one_year_after,
)
from services.mediation.state import Dispute
from services.mediation.steps import COMMITTEE


def apply(
    state: Dispute | None, cmd: Command[object], p: d.Apply, calendar: WorkCalendar
) -> list[EventPayload]:
    """Open a dispute on a worker's application, written or oral, accepted on receipt or not."""
    check_opening(state, cmd, p.unit, "dispute")
    received = local_date(cmd.occurred_at)
    if p.matters is None:
        raise Invalid("missing facts: state the matters in dispute")
    if not p.claims:
        raise Invalid("missing facts: state at least one claim")
    if p.known_since is None:
        raise Invalid("missing facts: give the date the worker knew or should have known")
    check_known_since(p.known_since, received)
    if p.form == "oral":
        if p.reasons is None or p.oral_recorded_at is None:
            raise Invalid(
                "an oral application is recorded on the spot: give the reasons and the time"
                " it was recorded"
            )
        if local_date(p.oral_recorded_at) != received:
            raise Invalid("an oral application is recorded on the day it is made")
        check_not_future(p.oral_recorded_at, cmd, "oral_recorded_at")
    elif p.oral_recorded_at is not None:
        raise Invalid("a written application has no oral record time")
    if p.accept_on_receipt and cmd.meta.actor.role not in COMMITTEE:
        raise Forbidden("only the mediation committee accepts an application on receipt")
    applied = d.DisputeApplied(
        unit=p.unit,
        form=p.form,
        applicant=p.applicant,
        respondent=p.respondent,
        category=p.category,
        matters=p.matters,
        reasons=p.reasons,
        oral_recorded_at=p.oral_recorded_at,
        claims=p.claims,
        claimed_fen=sum(c.amount_fen or 0 for c in p.claims),
        known_since=p.known_since,
        acceptance_due=calendar.add_working_days(received, ACCEPTANCE_WORKING_DAYS),
        limitation_date=one_year_after(p.known_since, calendar),
        progress_messages=p.progress_messages,
        receipt=p.receipt,
    )
    if not p.accept_on_receipt:
        return [applied]
    accepted = d.DisputeAccepted(
        accepted_on=received,
        mediation_deadline=calendar.add_days(received, MEDIATION_DAYS),
    )
    return [applied, accepted]


def open_from_grievance(
    state: Dispute | None, cmd: Command[object], p: d.OpenFromGrievance, calendar: WorkCalendar
) -> list[EventPayload]:
    """Open a dispute on a grievance referred to mediation: the committee decides on acceptance."""
    if state is not None:
        raise Refused(f"dispute {cmd.meta.case_id} already exists")
    received = local_date(cmd.occurred_at)
    return [
        d.DisputeApplied(
            unit=p.unit,
            form="referral",
            category=p.category,
            acceptance_due=calendar.add_working_days(received, ACCEPTANCE_WORKING_DAYS),
            grievance_id=p.grievance_id,
        )
    ]
