"""Policies of intake that answer other services' events with grievance commands."""

from __future__ import annotations

from contracts import dispute as d
from contracts import grievance as g
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.reactions import Commands, reaction

# The only dispute events the link policy answers.
READS = (d.DisputeApplied,)


def link_dispute(env: Envelope, event: EventPayload) -> Commands:
    """A dispute opened for a grievance: have the grievance name it."""
    if not isinstance(event, d.DisputeApplied) or event.grievance_id is None:
        return []
    command = reaction(
        env,
        command_type="link_dispute",
        case_id=event.grievance_id,
        payload=g.LinkDispute(dispute_id=env.case_id).model_dump(mode="json"),
        unit=event.unit,
    )
    return [("grievance", command)]
