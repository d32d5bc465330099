"""Policies of mediation that answer other services' events with dispute commands."""

from __future__ import annotations

from contracts import dispute as d
from contracts import grievance as g
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.ids import new_case_id
from services.common.reactions import Commands, reaction
from services.mediation.domain import CASE_PREFIX


def dispute_id_for_referral(referral_event_id: str) -> str:
    """Derive the dispute's id from the referral event, so a redelivery cannot open a second one."""
    return new_case_id(CASE_PREFIX, f"referral:{referral_event_id}")


# The only grievance events the referral policy answers.
READS = (g.GrievanceReferredToMediation,)


def open_from_grievance(env: Envelope, event: EventPayload) -> Commands:
    """A grievance referred to mediation opens a dispute, correlated with the grievance."""
    if not isinstance(event, g.GrievanceReferredToMediation):
        return []
    unit = event.unit or env.actor.unit
    command = reaction(
        env,
        command_type="open_from_grievance",
        case_id=dispute_id_for_referral(str(env.event_id)),
        payload=d.OpenFromGrievance(
            grievance_id=env.case_id, unit=unit, category=event.dispute_category
        ).model_dump(mode="json"),
        unit=unit,
    )
    return [("dispute", command)]
