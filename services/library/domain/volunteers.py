"""护薪 volunteers: registered per unit and team, with skills, languages and availability."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import library as lib
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.domain import (
    Command,
    Invalid,
    NotFound,
    Refused,
    check_occurred_at,
    check_opening,
    require_role,
)

VOLUNTEER_PREFIX = "VOL"
REGISTRARS = ("union_chair",)
ROLES: dict[str, tuple[str, ...]] = {
    "register": REGISTRARS,
    "change_availability": (*REGISTRARS, "volunteer"),
    "retire": REGISTRARS,
}


class Volunteer(BaseModel):
    """A volunteer as registered; their name and phone stay sealed under their own key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_type: Literal["volunteer"] = "volunteer"
    case_id: str
    unit: str
    status: Literal["active", "retired"]
    team: str
    user_id: str
    kind: lib.VolunteerKind
    person_id: str
    skills: tuple[lib.Skill, ...]
    languages: tuple[str, ...]
    availability: str
    opened_at: datetime
    last_event_at: datetime


def decide_volunteer(state: Volunteer | None, cmd: Command[object]) -> list[EventPayload]:
    """Turn a command on a volunteer into its events, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, ROLES.get(kind, ()), f"{kind.replace('_', ' ')} a volunteer")
    p = cmd.payload
    if isinstance(p, lib.RegisterVolunteer):
        check_opening(state, cmd, p.unit, "volunteer")
        if len(set(p.skills)) != len(p.skills):
            raise Invalid("name each skill once")
        return [lib.VolunteerRegistered(**p.model_dump())]
    if state is None:
        raise NotFound(f"volunteer {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    if state.status == "retired":
        raise Refused(f"volunteer {state.case_id} has retired")
    actor = cmd.meta.actor
    match p:
        case lib.ChangeAvailability(availability=availability):
            if actor.role == "volunteer" and actor.user_id != state.user_id:
                raise NotFound(f"volunteer {state.case_id} does not exist")
            return [lib.VolunteerAvailabilityChanged(availability=availability)]
        case lib.Retire():
            return [lib.VolunteerRetired()]
    raise Invalid(f"unknown volunteer command {kind!r}")


def evolve_volunteer(state: Volunteer | None, env: Envelope, event: EventPayload) -> Volunteer:
    """Apply one event to a volunteer."""
    at = env.occurred_at
    if isinstance(event, lib.VolunteerRegistered):
        return Volunteer(
            case_id=env.case_id,
            unit=event.unit,
            status="active",
            team=event.team,
            user_id=event.user_id,
            kind=event.kind,
            person_id=event.person.person_id,
            skills=event.skills,
            languages=event.languages,
            availability=event.availability,
            opened_at=at,
            last_event_at=at,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before library.volunteer_registered in {env.case_id}")
    s = state.model_copy(update={"last_event_at": at})
    match event:
        case lib.VolunteerAvailabilityChanged(availability=availability):
            return s.model_copy(update={"availability": availability})
        case lib.VolunteerRetired():
            return s.model_copy(update={"status": "retired"})
    raise ValueError(f"a volunteer cannot apply {env.event_type}")
