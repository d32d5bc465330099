"""Who sees what of a case: the rules each service's API and the 台账 export apply alike."""

from __future__ import annotations

from typing import Any

from contracts.envelope import Actor
from services.common.auth import can_see

SEALED = "[sealed]"
# By stream: the roles whose work needs the worker's identity; everyone else sees it sealed.
PERSONAL_ROLES: dict[str, tuple[str, ...]] = {
    "grievance": ("worker_rep", "union_chair", "followup_officer"),
    "suggestion": ("worker_rep", "union_chair"),
    "dispute": ("union_chair", "mediator"),
    "followup": ("followup_officer", "union_chair", "worker_rep"),
}
# What a suggestion says is for those who work on suggestions.
SUGGESTION_CONTENT_ROLES = ("worker_rep", "group_member", "union_chair")


def confided(actor: Actor, unit: str, state: dict[str, Any]) -> bool:
    """Whether a dispute's content is confided to the actor: mediation is confidential."""
    if actor.role == "auditor":
        return True
    if actor.role == "union_chair" and can_see(actor, unit):
        return True
    return actor.role == "mediator" and state.get("mediator") == actor.user_id


def sees_person(actor: Actor, stream: str, unit: str, state: dict[str, Any]) -> bool:
    """Whether the actor sees in clear the worker a case of the stream names."""
    if actor.role not in PERSONAL_ROLES.get(stream, ()):
        return False
    return stream != "dispute" or confided(actor, unit, state)
