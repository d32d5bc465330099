"""Help on a case (护薪帮扶): asked of a volunteer, accepted or declined, given, ended."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import library as lib
from contracts.envelope import Envelope
from contracts.personal import Sealed
from contracts.registry import EventPayload
from services.common.domain import (
    Command,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    check_occurred_at,
    check_opening,
    require_role,
)

HELP_PREFIX = "HLP"
HelpStatus = Literal["requested", "helping", "declined", "ended"]
# A mediator asks on a dispute, a rep on a grievance; the chair on either.
REQUESTERS: dict[str, tuple[str, ...]] = {
    "DSP": ("mediator", "union_chair"),
    "GRV": ("worker_rep", "union_chair"),
}
ROLES: dict[str, tuple[str, ...]] = {
    "request": ("mediator", "worker_rep", "union_chair"),
    "accept": ("volunteer",),
    "decline": ("volunteer",),
    "record": ("volunteer",),
    "end": ("volunteer", "mediator", "worker_rep", "union_chair"),
}


class Help(BaseModel):
    """A request for a volunteer's help as it stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_type: Literal["help"] = "help"
    case_id: str
    unit: str
    status: HelpStatus
    source_case_id: str
    volunteer: str
    volunteer_case_id: str
    requester: str
    brief: Sealed
    hours: float = 0.0
    actions: tuple[lib.HelpAction, ...] = ()
    records: int = 0
    opened_at: datetime
    last_event_at: datetime


def decide_help(state: Help | None, cmd: Command[object]) -> list[EventPayload]:
    """Turn a command on a help request into its events, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, ROLES.get(kind, ()), f"{kind} help")
    p = cmd.payload
    actor = cmd.meta.actor
    if isinstance(p, lib.RequestHelp):
        check_opening(state, cmd, p.unit, "help request")
        allowed = REQUESTERS[p.source_case_id.split("-", 1)[0]]
        if actor.role not in allowed:
            raise Forbidden(f"a {actor.role} does not ask for help on {p.source_case_id}")
        return [lib.HelpRequested(**p.model_dump(), requester=actor.user_id)]
    if state is None:
        raise NotFound(f"help request {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    if actor.role == "volunteer" and actor.user_id != state.volunteer:
        raise NotFound(f"help request {state.case_id} does not exist")
    match p:
        case lib.Accept() | lib.Decline():
            if state.status != "requested":
                raise Refused(f"help request {state.case_id} is already {state.status}")
            if isinstance(p, lib.Decline):
                return [lib.HelpDeclined(reason=p.reason)]
            return [lib.HelpAccepted()]
        case lib.RecordHelp(hours=hours, actions=actions, note=note):
            _require_helping(state)
            return [lib.HelpGiven(hours=hours, actions=actions, note=note)]
        case lib.EndHelp(note=note):
            _require_helping(state)
            ending = actor.role in ("volunteer", "union_chair") or actor.user_id == state.requester
            if not ending:
                raise Forbidden(f"only {state.requester} or the volunteer ends this help")
            return [lib.HelpEnded(note=note)]
    raise Invalid(f"unknown help command {kind!r}")


def _require_helping(state: Help) -> None:
    if state.status != "helping":
        raise Refused(f"help request {state.case_id} is {state.status}, not being helped on")


def evolve_help(state: Help | None, env: Envelope, event: EventPayload) -> Help:
    """Apply one event to a help request."""
    at = env.occurred_at
    if isinstance(event, lib.HelpRequested):
        return Help(
            case_id=env.case_id,
            unit=event.unit,
            status="requested",
            source_case_id=event.source_case_id,
            volunteer=event.volunteer,
            volunteer_case_id=event.volunteer_case_id,
            requester=event.requester,
            brief=event.brief,
            opened_at=at,
            last_event_at=at,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before library.help_requested in {env.case_id}")
    s = state.model_copy(update={"last_event_at": at})
    match event:
        case lib.HelpAccepted():
            return s.model_copy(update={"status": "helping"})
        case lib.HelpDeclined():
            return s.model_copy(update={"status": "declined"})
        case lib.HelpGiven(hours=hours, actions=actions):
            done = tuple(dict.fromkeys((*s.actions, *actions)))
            return s.model_copy(
                update={"hours": s.hours + hours, "actions": done, "records": s.records + 1}
            )
        case lib.HelpEnded():
            return s.model_copy(update={"status": "ended"})
    raise ValueError(f"a help request cannot apply {env.event_type}")
