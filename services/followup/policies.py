"""Policies of follow-up: other services' events schedule follow-ups; call-backs close the loop."""

from __future__ import annotations

from collections.abc import Callable

from contracts import dispute as d
from contracts import followup as f
from contracts import grievance as g
from contracts import suggestion as s
from contracts.envelope import Envelope
from contracts.personal import Sealed
from contracts.registry import EventPayload
from services.common.ids import new_case_id
from services.common.reactions import Commands, SourceCase, reaction
from services.followup.domain import CALLBACK_WORKING_DAYS, CASE_PREFIX, SATISFIED


def followup_id_for(source_event_id: str, kind: f.FollowupKind) -> str:
    """Derive the follow-up's id from its source event, so a redelivery cannot schedule twice."""
    return new_case_id(CASE_PREFIX, f"followup:{kind}:{source_event_id}")


def _schedule(env: Envelope, source: SourceCase, **fields: object) -> Commands:
    if source.unit is None:
        raise LookupError(f"{env.case_id} has no unit to schedule its follow-up in")
    payload = f.Schedule.model_validate(
        {
            "unit": source.unit,
            "source_case_id": env.case_id,
            "source_event_id": str(env.event_id),
            **fields,
        }
    )
    command = reaction(
        env,
        command_type="schedule",
        case_id=followup_id_for(str(env.event_id), payload.kind),
        payload=payload.model_dump(mode="json"),
        unit=source.unit,
    )
    # The follow-up's lineage names the case it follows, whatever that case was opened from.
    return [("followup", command.model_copy(update={"correlation_id": env.case_id}))]


def from_grievance(
    env: Envelope,
    event: EventPayload,
    source: SourceCase,
    callback_days: Callable[[str], int] = lambda _unit: CALLBACK_WORKING_DAYS,
) -> Commands:
    """An escalation is tracked by its named owner; a resolution is followed by a call-back."""
    if isinstance(event, g.GrievanceEscalated):
        return _schedule(env, source, kind="progress", owner=event.owner, due=event.due)
    if isinstance(event, g.GrievanceResolved):
        days = callback_days(source.unit or "")
        return _schedule(env, source, kind="callback", working_days=days)
    return []


def from_suggestion(env: Envelope, event: EventPayload, source: SourceCase) -> Commands:
    """A suggestion referred to the leadership team is tracked by its named owner."""
    if isinstance(event, s.SuggestionReferredToLeadership):
        return _schedule(env, source, kind="progress", owner=event.owner, due=event.due)
    return []


def from_dispute(env: Envelope, event: EventPayload, source: SourceCase) -> Commands:
    """An agreement is checked at its deadline; a failed mediation leaves a limitation reminder."""
    if isinstance(event, d.DisputeAgreementReached):
        return _schedule(env, source, kind="performance_check", due=event.perform_by)
    if isinstance(event, d.DisputeFailed | d.DisputeDeadlinePassed):
        return _schedule(
            env, source, kind="limitation_reminder", limitation_date=event.limitation_date
        )
    return []


def close_the_loop(env: Envelope, event: EventPayload, source: SourceCase) -> Commands:
    """A call-back closes or reopens its grievance; a performance check reports to mediation."""
    target = env.correlation_id
    unit = source.unit or env.actor.unit
    if isinstance(event, f.FollowupContacted) and target.startswith("GRV-"):
        if event.satisfaction in SATISFIED:
            command_type, payload = "close", g.Close().model_dump(mode="json")
        else:
            reason = f"the worker was {event.satisfaction} at call-back {env.case_id}"
            command_type, payload = "reopen", g.Reopen(reason=reason).model_dump(mode="json")
        cmd = reaction(env, command_type=command_type, case_id=target, payload=payload, unit=unit)
        return [("grievance", cmd)]
    if isinstance(event, f.FollowupCompleted) and target.startswith("DSP-"):
        if event.agreement == "breached":
            # The officer's reason goes on sealed as it came; without one, the ledger says why.
            found: Sealed | str = (
                event.breach_reason or f"found breached at performance check {env.case_id}"
            )
            cmd = reaction(
                env,
                command_type="record_breach",
                case_id=target,
                payload=d.RecordBreach(reason=found).model_dump(mode="json"),
                unit=unit,
            )
            return [("dispute", cmd)]
        if event.agreement == "performed":
            cmd = reaction(
                env,
                command_type="record_performance",
                case_id=target,
                payload=d.RecordPerformance().model_dump(mode="json"),
                unit=unit,
            )
            return [("dispute", cmd)]
    return []
