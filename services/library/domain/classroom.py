"""Classroom sessions (以案说法课堂): where and when, the typical cases used, who attended."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import library as lib
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.calendar import local_date
from services.common.domain import Command, Invalid, check_day, check_opening, require_role

CLASSROOM_PREFIX = "CLS"
HOSTS = ("union_chair", "mediator")


class Classroom(BaseModel):
    """A classroom session as recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_type: Literal["classroom"] = "classroom"
    case_id: str
    unit: str
    status: Literal["held"] = "held"
    held_on: date
    place: str
    cases: tuple[str, ...]
    attendance: dict[str, int]
    attendees: int
    opened_at: datetime
    last_event_at: datetime


def decide_classroom(state: Classroom | None, cmd: Command[object]) -> list[EventPayload]:
    """Record a classroom session, or refuse it."""
    require_role(cmd, HOSTS, "record a classroom session")
    p = cmd.payload
    if not isinstance(p, lib.HoldClassroom):
        raise Invalid(f"unknown classroom command {cmd.meta.command_type!r}")
    check_opening(state, cmd, p.unit, "classroom session")
    check_day(p.held_on, local_date(cmd.occurred_at), "held_on", ahead=False)
    roles = [a.role for a in p.attendance]
    if len(set(roles)) != len(roles):
        raise Invalid("give each attendee role once, with its count")
    if len(set(p.cases)) != len(p.cases):
        raise Invalid("name each typical case used once")
    if sum(a.count for a in p.attendance) == 0:
        raise Invalid("a session someone attended has at least one attendee")
    return [
        lib.ClassroomHeld(
            unit=p.unit, held_on=p.held_on, place=p.place, cases=p.cases, attendance=p.attendance
        )
    ]


def evolve_classroom(state: Classroom | None, env: Envelope, event: EventPayload) -> Classroom:
    """Apply one event to a classroom session."""
    if isinstance(event, lib.ClassroomHeld) and state is None:
        attendance = {a.role: a.count for a in event.attendance}
        return Classroom(
            case_id=env.case_id,
            unit=event.unit,
            held_on=event.held_on,
            place=event.place,
            cases=event.cases,
            attendance=attendance,
            attendees=sum(attendance.values()),
            opened_at=env.occurred_at,
            last_event_at=env.occurred_at,
        )
    raise ValueError(f"a classroom session cannot apply {env.event_type}")
