"""Dispute mediation rules (LDMAL, MOHRSS 2011 provisions): pure decide/evolve/due, no I/O."""

from __future__ import annotations

from datetime import datetime

from contracts import dispute as d
from contracts.envelope import Envelope
from contracts.receipt import AddWorkerNote, ReissueReceipt
from contracts.registry import EventPayload
from contracts.scope import DisputeCategory
from services.common import receipts
from services.common.calendar import OFFICIAL, WorkCalendar, local_date
from services.common.domain import (
    Command,
    Invalid,
    NotFound,
    Refused,
    check_day,
    check_occurred_at,
    require_role,
)
from services.mediation import applications
from services.mediation.periods import (
    MEDIATION_DAYS,
    acceptance,
    due_commands,
    extension,
    one_year_after,
    recounted,
    require_within_period,
)
from services.mediation.state import Dispute, Status
from services.mediation.steps import (
    ALLOWED_FROM,
    CASE_WORK,
    ROLES,
    require_assigned_mediator,
    require_status,
)

__all__ = [
    "ALLOWED_FROM",
    "CASE_PREFIX",
    "MEDIATION_DAYS",
    "PAYMENT_ORDER_CATEGORIES",
    "ROLES",
    "Dispute",
    "Status",
    "decide",
    "due",
    "evolve",
    "one_year_after",
]

CASE_PREFIX = "DSP"
# LDMAL Art. 16: money owed under these heads may go to court for a payment order on breach.
PAYMENT_ORDER_CATEGORIES: frozenset[DisputeCategory] = frozenset(
    {"remuneration", "work_injury_medical", "severance", "compensation"}
)


def decide(
    state: Dispute | None, cmd: Command[object], calendar: WorkCalendar = OFFICIAL
) -> list[EventPayload]:
    """Turn a command into the events it causes, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, ROLES.get(kind, ()), f"{kind.replace('_', ' ')} a dispute")
    p = cmd.payload
    if isinstance(p, d.Apply):
        return applications.apply(state, cmd, p, calendar)
    if isinstance(p, d.OpenFromGrievance):
        return applications.open_from_grievance(state, cmd, p, calendar)
    if state is None:
        raise NotFound(f"dispute {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    if isinstance(p, (ReissueReceipt, AddWorkerNote)):
        return receipts.decide(state.receipt, cmd, d.DisputeReceiptIssued, d.DisputeWorkerNoted)
    # Who may act is settled before what the case's state allows, which it then learns.
    if kind in CASE_WORK:
        require_assigned_mediator(state, cmd)
    require_status(state, kind)
    today = local_date(cmd.occurred_at)
    match p:
        case d.Decline(code=code, reason=reason):
            return [d.DisputeDeclined(code=code, reason=reason)]
        case d.Accept(known_since=known):
            return [acceptance(state, known, today, calendar)]
        case d.MarkAcceptanceOverdue():
            if "mark_acceptance_overdue" not in due_commands(state, cmd.occurred_at):
                raise Refused(f"the acceptance of {state.case_id} is not overdue")
            return [d.DisputeAcceptanceOverdue(due=state.acceptance_due)]
        case d.AssignMediator(mediator=mediator, relation=relation):
            return [_assign(state, mediator, relation)]
        case d.RecordSession(held_on=held_on, attendees=attendees, minutes=minutes):
            check_day(held_on, today, "the day the session was held", ahead=False)
            if state.accepted_on and held_on < state.accepted_on:
                raise Invalid(f"the session date is before the acceptance ({state.accepted_on})")
            return [d.DisputeSessionHeld(held_on=held_on, attendees=attendees, minutes=minutes)]
        case d.Extend(days=days, consent=consent):
            return [extension(state, days, consent, today, calendar)]
        case d.RecordAgreement(terms=terms, amount_fen=fen, perform_by=by, signed_by=signed):
            require_within_period(state, today, "reach an agreement")
            missing = [s for s in ("applicant", "respondent", "mediator") if s not in signed]
            if missing:
                raise Invalid(
                    "an agreement binds only when signed by both parties and the mediator;"
                    f" missing: {', '.join(missing)}"
                )
            check_day(by, today, "the performance deadline", ahead=True)
            return [
                d.DisputeAgreementReached(
                    terms=terms, amount_fen=fen, perform_by=by, signed_by=tuple(signed)
                )
            ]
        case d.RecordPerformance():
            return [d.DisputePerformed()]
        case d.RecordBreach(reason=reason):
            return [
                d.DisputeBreached(
                    reason=reason,
                    limitation_date=recounted(state, today, calendar),
                    payment_order_available=state.category in PAYMENT_ORDER_CATEGORIES,
                )
            ]
        case d.Fail(reason=reason):
            return [
                d.DisputeFailed(reason=reason, limitation_date=recounted(state, today, calendar))
            ]
        case d.MarkDeadlinePassed():
            if "mark_deadline_passed" not in due_commands(state, cmd.occurred_at):
                raise Refused(f"the mediation period of {state.case_id} has not run out")
            assert state.deadline is not None, "a running mediation always has a deadline"
            return [
                d.DisputeDeadlinePassed(
                    deadline=state.deadline,
                    limitation_date=recounted(state, state.deadline, calendar),
                )
            ]
        case d.ReferToArbitration(commission=commission):
            if state.status == "applied" and not state.acceptance_overdue:
                raise Refused(
                    f"dispute {state.case_id} awaits the committee's decision until"
                    f" {state.acceptance_due}; arbitration opens if none comes in time"
                )
            return [d.DisputeReferredToArbitration(commission=commission)]
    raise Invalid(f"unknown dispute command {kind!r}")


def _assign(state: Dispute, mediator: str, relation: d.Relation) -> d.DisputeMediatorAssigned:
    if relation != "none":
        raise Refused(
            f"a mediator who is the {relation.replace('_', ' ')} must step aside; name another"
        )
    if mediator in state.management:
        raise Refused(f"{mediator} is of the respondent's management and may not mediate")
    if mediator == state.mediator:
        raise Refused(f"{mediator} already mediates {state.case_id}")
    return d.DisputeMediatorAssigned(mediator=mediator)


def due(state: Dispute, now: datetime) -> list[tuple[str, dict[str, object]]]:
    """Return the timer commands a dispute needs at `now`."""
    return [(command_type, {}) for command_type in due_commands(state, now)]


def evolve(state: Dispute | None, env: Envelope, event: EventPayload) -> Dispute:
    """Apply one event to the dispute."""
    at = env.occurred_at
    if isinstance(event, d.DisputeApplied):
        return Dispute(
            case_id=env.case_id,
            unit=event.unit,
            status="applied",
            form=event.form,
            category=event.category,
            person_id=event.applicant.person_id if event.applicant else None,
            grievance_id=event.grievance_id,
            employer=event.respondent.employer if event.respondent else None,
            management=event.respondent.management if event.respondent else (),
            claims=event.claims,
            claimed_fen=event.claimed_fen,
            known_since=event.known_since,
            limitation_date=event.limitation_date,
            opened_at=at,
            last_event_at=at,
            acceptance_due=event.acceptance_due,
            deadline=event.acceptance_due,
            receipt=event.receipt.number if event.receipt else None,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before dispute.applied in {env.case_id}")
    if isinstance(event, d.DisputeAcceptanceOverdue):
        # An observation that the decision is late; steps dated before it may still follow.
        return state.model_copy(
            update={"acceptance_overdue": True, "may_apply_for_arbitration": True}
        )
    s = state.model_copy(update={"last_event_at": at})
    ended = {"ended_at": at, "deadline": None}
    arbitrable = {**ended, "may_apply_for_arbitration": True}
    change = receipts.evolved(s.worker_notes, event, at)
    if change is not None:
        return s.model_copy(update=change)
    match event:
        case d.DisputeDeclined(code=code, reason=reason):
            return s.model_copy(
                update={
                    "status": "declined",
                    "decline_code": code,
                    "outcome_reason": reason,
                    **arbitrable,
                }
            )
        case d.DisputeAccepted():
            return s.model_copy(
                update={
                    "status": "accepted",
                    "may_apply_for_arbitration": False,
                    "accepted_on": event.accepted_on,
                    "mediation_deadline": event.mediation_deadline,
                    "deadline": event.mediation_deadline,
                    "known_since": event.known_since or s.known_since,
                    "limitation_date": event.limitation_date or s.limitation_date,
                }
            )
        case d.DisputeMediatorAssigned(mediator=mediator):
            return s.model_copy(update={"status": "mediating", "mediator": mediator})
        case d.DisputeSessionHeld():
            return s.model_copy(update={"sessions": s.sessions + 1})
        case d.DisputeExtended(days=days, mediation_deadline=deadline):
            return s.model_copy(
                update={"extended_days": days, "mediation_deadline": deadline, "deadline": deadline}
            )
        case d.DisputeAgreementReached(terms=terms, amount_fen=fen, perform_by=by):
            return s.model_copy(
                update={
                    "status": "agreement_reached",
                    "agreement_terms": terms,
                    "agreement_fen": fen,
                    "perform_by": by,
                    "deadline": None,
                }
            )
        case d.DisputePerformed():
            return s.model_copy(update={"status": "performed", **ended})
        case d.DisputeBreached(reason=reason, limitation_date=limit, payment_order_available=po):
            return s.model_copy(
                update={
                    "status": "breached",
                    "outcome_reason": reason,
                    "limitation_date": limit,
                    "payment_order_available": po,
                    **arbitrable,
                }
            )
        case d.DisputeFailed(reason=reason, limitation_date=limit):
            return s.model_copy(
                update={
                    "status": "failed",
                    "outcome_reason": reason,
                    "limitation_date": limit,
                    **arbitrable,
                }
            )
        case d.DisputeDeadlinePassed(limitation_date=limit):
            return s.model_copy(
                update={"status": "deadline_passed", "limitation_date": limit, **arbitrable}
            )
        case d.DisputeReferredToArbitration():
            return s.model_copy(
                update={
                    "status": "referred_to_arbitration",
                    "may_apply_for_arbitration": False,
                    "ended_at": s.ended_at or at,
                    "deadline": None,
                }
            )
    raise ValueError(f"dispute cannot apply {env.event_type}")
