"""What a worker holding a receipt is shown of their grievance: plain facts, no one's name."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.calendar import OFFICIAL, WorkCalendar, local_date
from services.intake.domain import Grievance

# What happens next, by status: the step the union owes the worker.
NEXT = {
    "logged": "acknowledge",
    "acknowledged": "answer",
    "reopened": "answer",
    "escalated": "leadership",
    "decided": "answer",
    "referred_to_mediation": "mediation",
    "resolved": "callback",
    "closed": "none",
    "withdrawn": "none",
}


def _day(moment: Any) -> date | None:
    return local_date(moment) if moment is not None else None


def public_view(
    case: Grievance, callback_working_days: int, calendar: WorkCalendar = OFFICIAL
) -> dict[str, Any]:
    """Return the worker's view: status, the next step and by when, the call-back to expect."""
    step = NEXT[case.status]
    by: date | None = None
    if step == "acknowledge":
        by = case.ack_due
    elif step == "answer":
        by = case.answer_due if case.answered_at is None else None
    elif step == "leadership":
        by = case.escalation_due
    callback_by = None
    if case.status == "resolved" and case.answered_at is not None:
        # The follow-up service calls the worker back this many working days after the answer.
        resolved = _day(case.last_event_at) or local_date(case.answered_at)
        callback_by = calendar.add_working_days(resolved, callback_working_days)
    return {
        "kind": "grievance",
        "status": case.status,
        "category": case.category,
        "anonymous": case.anonymous,
        "opened_on": _day(case.opened_at),
        "acknowledged_on": _day(case.acknowledged_at),
        "answered_on": _day(case.answered_at),
        "closed_on": _day(case.closed_at),
        "resolved_how": case.resolved_how,
        "next": step,
        "next_by": by,
        "handled_by": "leadership_team" if case.status in ("escalated", "decided") else "union",
        "callback_by": callback_by,
        "overdue": list(case.overdue),
        "mediation": case.dispute_id is not None or case.status == "referred_to_mediation",
        "worker_notes": case.worker_notes,
        "not_contacted_on": _day(case.not_contacted_at),
    }
