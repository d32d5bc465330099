"""What a worker holding a receipt is shown of their mediation: its clocks, no one's name."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.calendar import local_date
from services.mediation.state import Dispute

# What happens next, by status: the step the committee owes the worker, or theirs to take.
NEXT = {
    "applied": "acceptance",
    "accepted": "mediator",
    "mediating": "mediation",
    "agreement_reached": "performance",
    "performed": "none",
    "declined": "arbitration",
    "breached": "arbitration",
    "failed": "arbitration",
    "deadline_passed": "arbitration",
    "referred_to_arbitration": "none",
}


def _day(moment: Any) -> date | None:
    return local_date(moment) if moment is not None else None


def public_view(case: Dispute) -> dict[str, Any]:
    """Return the worker's view: status, the 15-day clock, and what to do next by when."""
    step = NEXT[case.status]
    by = {
        "acceptance": case.acceptance_due,
        "mediator": case.mediation_deadline,
        "mediation": case.mediation_deadline,
        "performance": case.perform_by,
        "arbitration": case.limitation_date,
    }.get(step)
    return {
        "kind": "dispute",
        "status": case.status,
        "category": case.category,
        "opened_on": _day(case.opened_at),
        "acceptance_due": case.acceptance_due,
        "accepted_on": case.accepted_on,
        "mediation_deadline": case.mediation_deadline,
        "extended_days": case.extended_days,
        "sessions": case.sessions,
        "perform_by": case.perform_by,
        "limitation_date": case.limitation_date,
        "next": step,
        "next_by": by,
        "handled_by": "mediator" if case.mediator else "committee",
        # A performance check calls the worker at the agreement's deadline.
        "callback_by": case.perform_by if case.status == "agreement_reached" else None,
        "worker_notes": case.worker_notes,
        "not_contacted_on": _day(case.not_contacted_at),
    }
