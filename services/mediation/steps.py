"""Who may give each dispute command, and from which status."""

from __future__ import annotations

from services.common.domain import Command, Forbidden, Refused
from services.mediation.state import RUNNING, Dispute, Status

COMMITTEE = ("union_chair", "mediator")
REPS_AND_COMMITTEE = ("worker_rep", *COMMITTEE)
ROLES: dict[str, tuple[str, ...]] = {
    "apply": REPS_AND_COMMITTEE,
    "open_from_grievance": ("system",),
    "decline": COMMITTEE,
    "accept": COMMITTEE,
    "mark_acceptance_overdue": ("system",),
    "assign": ("union_chair",),
    "record_session": COMMITTEE,
    "extend": COMMITTEE,
    "record_agreement": COMMITTEE,
    "record_performance": (*REPS_AND_COMMITTEE, "system"),
    "record_breach": (*REPS_AND_COMMITTEE, "system"),
    "fail": COMMITTEE,
    "mark_deadline_passed": ("system",),
    "refer_to_arbitration": REPS_AND_COMMITTEE,
    "reissue_receipt": REPS_AND_COMMITTEE,
    # Sent for the worker by the receipt page, who holds no account.
    "add_worker_note": ("system",),
}
ALLOWED_FROM: dict[str, tuple[Status, ...]] = {
    "decline": ("applied",),
    "accept": ("applied",),
    "mark_acceptance_overdue": ("applied",),
    "assign": RUNNING,
    "record_session": ("mediating",),
    "extend": RUNNING,
    "record_agreement": ("mediating",),
    "record_performance": ("agreement_reached",),
    "record_breach": ("agreement_reached",),
    "fail": RUNNING,
    "mark_deadline_passed": RUNNING,
    "refer_to_arbitration": ("applied", "declined", "failed", "deadline_passed", "breached"),
}
# Commands only the assigned mediator (or the chair) may give once a mediator is named.
CASE_WORK = frozenset({"record_session", "extend", "record_agreement", "fail"})


def require_status(state: Dispute, kind: str) -> None:
    """Refuse a command the dispute's status does not allow."""
    allowed = ALLOWED_FROM.get(kind, ())
    if state.status not in allowed:
        verb = kind.replace("_", " ")
        raise Refused(
            f"cannot {verb} dispute {state.case_id}: it is {state.status.replace('_', ' ')}"
            f" (possible only when {' or '.join(s.replace('_', ' ') for s in allowed)})"
        )


def require_assigned_mediator(state: Dispute, cmd: Command[object]) -> None:
    """Refuse case work from a mediator other than the one assigned."""
    actor = cmd.meta.actor
    if actor.role == "mediator" and actor.user_id != state.mediator:
        raise Forbidden(f"only the mediator assigned to {state.case_id} works on it")
