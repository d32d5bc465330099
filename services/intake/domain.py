"""Grievance rules: pure decide/evolve over a complaint's lifecycle, no I/O."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import grievance as g
from contracts.envelope import Envelope
from contracts.personal import SealedText
from contracts.receipt import AddWorkerNote, ReissueReceipt
from contracts.registry import EventPayload
from services.common import receipts
from services.common.calendar import OFFICIAL, WorkCalendar, end_of_day, local_date
from services.common.domain import (
    Command,
    Invalid,
    NotFound,
    Refused,
    check_day,
    check_occurred_at,
    check_opening,
    require_role,
)

Status = Literal[
    "logged",
    "acknowledged",
    "escalated",
    "decided",
    "referred_to_mediation",
    "resolved",
    "reopened",
    "closed",
    "withdrawn",
]

CASE_PREFIX = "GRV"
REPS = ("worker_rep", "union_chair")
REPS_AND_SYSTEM = (*REPS, "system")

# Which statuses each command may start from; the rest of the rules live in `decide`.
ALLOWED_FROM: dict[str, tuple[Status, ...]] = {
    "acknowledge": ("logged",),
    "resolve": ("acknowledged", "decided", "referred_to_mediation", "reopened"),
    "escalate": ("acknowledged", "reopened"),
    "record_decision": ("escalated",),
    "refer_to_mediation": ("acknowledged", "escalated", "decided", "reopened"),
    "give_feedback": (
        "acknowledged",
        "escalated",
        "decided",
        "referred_to_mediation",
        "resolved",
        "reopened",
    ),
    "close": ("resolved",),
    "reopen": ("resolved", "closed"),
    "withdraw": (
        "logged",
        "acknowledged",
        "escalated",
        "decided",
        "referred_to_mediation",
        "reopened",
    ),
}
ROLES: dict[str, tuple[str, ...]] = {
    "log": REPS,
    "acknowledge": REPS,
    "resolve": REPS,
    "escalate": REPS,
    "record_decision": REPS,
    "refer_to_mediation": REPS,
    "give_feedback": REPS,
    "close": REPS_AND_SYSTEM,
    "reopen": REPS_AND_SYSTEM,
    "withdraw": REPS,
    "mark_overdue": ("system",),
    "link_dispute": ("system",),
    "reissue_receipt": REPS,
    # Sent for the worker by the receipt page, who holds no account.
    "add_worker_note": ("system",),
}
ANSWERED: frozenset[Status] = frozenset(
    {"escalated", "decided", "referred_to_mediation", "resolved", "closed", "withdrawn"}
)


class Grievance(BaseModel):
    """A grievance as it stands after its events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    unit: str
    status: Status
    category: g.Category
    channel: g.Channel
    anonymous: bool
    person_id: str | None
    summary: SealedText
    opened_at: datetime
    last_event_at: datetime
    ack_due: date | None
    answer_due: date | None
    acknowledged_at: datetime | None = None
    answered_at: datetime | None = None
    resolved_how: g.ResolvedHow | None = None
    resolution: SealedText | None = None
    escalation_owner: str | None = None
    escalation_due: date | None = None
    decision: SealedText | None = None
    dispute_category: str | None = None
    dispute_id: str | None = None
    feedback_count: int = 0
    reopen_count: int = 0
    overdue: tuple[g.Stage, ...] = ()
    closed_at: datetime | None = None
    receipt: str | None = None
    worker_notes: int = 0
    not_contacted_at: datetime | None = None


def decide(
    state: Grievance | None, cmd: Command[object], calendar: WorkCalendar = OFFICIAL
) -> list[EventPayload]:
    """Turn a command into the events it causes, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, ROLES.get(kind, ()), f"{kind.replace('_', ' ')} a grievance")
    p = cmd.payload
    if isinstance(p, g.LogGrievance):
        return _log(state, cmd, p, calendar)
    if state is None:
        raise NotFound(f"grievance {cmd.meta.case_id} does not exist")
    if isinstance(p, g.LinkDispute):
        return _link_dispute(state, p)
    check_occurred_at(cmd, state.last_event_at)
    if isinstance(p, g.MarkOverdue):
        return _mark_overdue(state, cmd, p)
    if isinstance(p, (ReissueReceipt, AddWorkerNote)):
        return receipts.decide(state.receipt, cmd, g.GrievanceReceiptIssued, g.GrievanceWorkerNoted)
    _require_status(state, kind)
    match p:
        case g.Acknowledge():
            return [g.GrievanceAcknowledged()]
        case g.Resolve(how=how, resolution=text):
            if state.status == "referred_to_mediation" and how != "mediation":
                raise Invalid("a grievance referred to mediation is resolved by mediation")
            return [g.GrievanceResolved(how=how, resolution=text)]
        case g.Escalate(owner=owner, due=due):
            check_day(due, local_date(cmd.occurred_at), "the escalation due date", ahead=True)
            return [g.GrievanceEscalated(owner=owner, due=due)]
        case g.RecordDecision(decision=text):
            return [g.GrievanceDecisionRecorded(decision=text)]
        case g.ReferToMediation(dispute_category=category):
            return [g.GrievanceReferredToMediation(dispute_category=category, unit=state.unit)]
        case g.GiveFeedback(note=note):
            return [g.GrievanceFeedbackGiven(note=note)]
        case g.Close():
            return [g.GrievanceClosed()]
        case g.Reopen(reason=reason):
            return [g.GrievanceReopened(reason=reason)]
        case g.Withdraw(reason=reason):
            return [g.GrievanceWithdrawn(reason=reason)]
    raise Invalid(f"unknown grievance command {kind!r}")


def _log(
    state: Grievance | None, cmd: Command[object], p: g.LogGrievance, calendar: WorkCalendar
) -> list[EventPayload]:
    check_opening(state, cmd, p.unit, "grievance")
    if p.anonymous == (p.complainant is not None):
        raise Invalid("give either a complainant or anonymous: true, not both or neither")
    received = local_date(cmd.occurred_at)
    return [
        g.GrievanceLogged(
            unit=p.unit,
            category=p.category,
            summary=p.summary,
            details=p.details,
            channel=p.channel,
            anonymous=p.anonymous,
            complainant=p.complainant,
            ack_due=calendar.add_working_days(received, p.ack_working_days),
            answer_due=calendar.add_working_days(received, p.answer_working_days),
            progress_messages=p.progress_messages if p.complainant is not None else None,
            receipt=p.receipt,
        )
    ]


def _link_dispute(state: Grievance, p: g.LinkDispute) -> list[EventPayload]:
    # No status or time-order rule: the link reports a fact of another service, in any status.
    if state.dispute_id is not None:
        raise Refused(f"grievance {state.case_id} is already linked to {state.dispute_id}")
    if state.dispute_category is None:
        raise Refused(f"grievance {state.case_id} was never referred to mediation")
    return [g.GrievanceDisputeLinked(dispute_id=p.dispute_id)]


def _require_status(state: Grievance, kind: str) -> None:
    allowed = ALLOWED_FROM.get(kind, ())
    if state.status not in allowed:
        verb = kind.replace("_", " ")
        raise Refused(
            f"cannot {verb} grievance {state.case_id}: it is {state.status.replace('_', ' ')}"
            f" (possible only when {' or '.join(s.replace('_', ' ') for s in allowed)})"
        )


def due_stages(state: Grievance, now: datetime) -> list[g.Stage]:
    """Return the service levels that have passed at `now` and are not yet recorded."""
    stages: list[g.Stage] = []
    if (
        state.ack_due
        and state.acknowledged_at is None
        and state.status == "logged"
        and "acknowledge" not in state.overdue
        and now >= end_of_day(state.ack_due)
    ):
        stages.append("acknowledge")
    if (
        state.answer_due
        and state.answered_at is None
        and state.status not in ANSWERED
        and "answer" not in state.overdue
        and now >= end_of_day(state.answer_due)
    ):
        stages.append("answer")
    return stages


def _mark_overdue(state: Grievance, cmd: Command[object], p: g.MarkOverdue) -> list[EventPayload]:
    if p.stage not in due_stages(state, cmd.occurred_at):
        raise Refused(f"the {p.stage} service level of {state.case_id} is not overdue")
    due = state.ack_due if p.stage == "acknowledge" else state.answer_due
    assert due is not None, "due_stages only returns stages with a due date"
    return [g.GrievanceOverdue(stage=p.stage, due=due)]


def evolve(state: Grievance | None, env: Envelope, event: EventPayload) -> Grievance:
    """Apply one event to the grievance."""
    at = env.occurred_at
    if isinstance(event, g.GrievanceLogged):
        return Grievance(
            case_id=env.case_id,
            unit=event.unit,
            status="logged",
            category=event.category,
            channel=event.channel,
            anonymous=event.anonymous,
            person_id=event.complainant.person_id if event.complainant else None,
            summary=event.summary,
            opened_at=at,
            last_event_at=at,
            ack_due=event.ack_due,
            answer_due=event.answer_due,
            receipt=event.receipt.number if event.receipt else None,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before grievance.logged in {env.case_id}")
    if isinstance(event, g.GrievanceDisputeLinked):
        # The link may be recorded after later grievance events; it does not move the clock.
        return state.model_copy(update={"dispute_id": event.dispute_id})
    if isinstance(event, g.GrievanceOverdue):
        # A mark that a due date passed is an observation, not a step: an imported ledger's
        # steps dated before it still follow, so it does not move the clock either.
        return state.model_copy(update={"overdue": (*state.overdue, event.stage)})
    s = state.model_copy(update={"last_event_at": at})
    change = receipts.evolved(s.worker_notes, event, at)
    if change is not None:
        return s.model_copy(update=change)
    answered = {"answered_at": s.answered_at or at}
    match event:
        case g.GrievanceAcknowledged():
            return s.model_copy(update={"status": "acknowledged", "acknowledged_at": at})
        case g.GrievanceResolved(how=how, resolution=text):
            return s.model_copy(
                update={"status": "resolved", "resolved_how": how, "resolution": text, **answered}
            )
        case g.GrievanceEscalated(owner=owner, due=due):
            return s.model_copy(
                update={
                    "status": "escalated",
                    "escalation_owner": owner,
                    "escalation_due": due,
                    **answered,
                }
            )
        case g.GrievanceDecisionRecorded(decision=text):
            return s.model_copy(update={"status": "decided", "decision": text})
        case g.GrievanceReferredToMediation(dispute_category=category):
            return s.model_copy(
                update={"status": "referred_to_mediation", "dispute_category": category, **answered}
            )
        case g.GrievanceFeedbackGiven():
            return s.model_copy(update={"feedback_count": s.feedback_count + 1})
        case g.GrievanceClosed():
            return s.model_copy(update={"status": "closed", "closed_at": at})
        case g.GrievanceReopened():
            return s.model_copy(
                update={"status": "reopened", "reopen_count": s.reopen_count + 1, "closed_at": None}
            )
        case g.GrievanceWithdrawn():
            return s.model_copy(update={"status": "withdrawn", **answered})
    raise ValueError(f"grievance cannot apply {env.event_type}")


def due(state: Grievance, now: datetime) -> list[tuple[str, dict[str, object]]]:
    """Return the timer commands a grievance needs at `now`."""
    return [("mark_overdue", {"stage": stage}) for stage in due_stages(state, now)]


def statistics(cases: list[Grievance]) -> dict[str, object]:
    """Summarise grievances: counts by status and category, and service-level punctuality."""
    by_status: dict[str, int] = {}
    by_category: dict[str, int] = {}
    acked_on_time = answered_on_time = answered = acked = 0
    for case in cases:
        by_status[case.status] = by_status.get(case.status, 0) + 1
        by_category[case.category] = by_category.get(case.category, 0) + 1
        if case.acknowledged_at is not None:
            acked += 1
            acked_on_time += (
                case.ack_due is None or local_date(case.acknowledged_at) <= case.ack_due
            )
        if case.answered_at is not None:
            answered += 1
            answered_on_time += (
                case.answer_due is None or local_date(case.answered_at) <= case.answer_due
            )
    return {
        "grievances": len(cases),
        "by_status": by_status,
        "by_category": by_category,
        "overdue": sum(1 for c in cases if c.overdue),
        "reopened": sum(1 for c in cases if c.reopen_count),
        "acknowledged_on_time_rate": _rate(acked_on_time, acked),
        "answered_on_time_rate": _rate(answered_on_time, answered),
        "closure_rate": _rate(by_status.get("closed", 0), len(cases)),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
