"""Groups (GRP-): a unit's democratic-management group, who sat in it when, and its reviews."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from contracts import suggestion as s
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.domain import (
    Command,
    Forward,
    Invalid,
    NotFound,
    Refused,
    check_occurred_at,
    check_opening,
    require_role,
)
from services.suggestions.domain.shared import CHAIR, GROUP, State


class Seat(State):
    """Who sat in the group, and when."""

    member: str
    since: datetime
    until: datetime | None = None
    congress_session: str


class Group(State):
    """A unit's democratic-management group as it sits after its events."""

    case_id: str
    case_type: Literal["group"] = "group"
    unit: str
    status: Literal["sitting"] = "sitting"
    leader: str
    members: tuple[str, ...]
    congress_session: str
    min_size: int
    max_size: int
    seats: tuple[Seat, ...]
    opened_at: datetime
    last_event_at: datetime

    def sitting_at(self, moment: datetime) -> tuple[str, ...]:
        """Return the members who sat at a moment."""
        return tuple(
            seat.member
            for seat in self.seats
            if seat.since <= moment and (seat.until is None or moment < seat.until)
        )


class NoGroup(Refused):
    """No group sat to review a suggestion."""

    title = "No group"


def decide_group(state: Group | None, cmd: Command[object]) -> list[EventPayload] | Forward:
    """Turn a group command into events, hand it on to a suggestion, or refuse it."""
    p = cmd.payload
    if isinstance(p, s.ConveneReview):
        return convene(state, cmd, p)
    require_role(cmd, CHAIR, f"{cmd.meta.command_type.replace('_', ' ')} a group")
    if isinstance(p, s.FormGroup):
        if state is not None:
            raise Refused(f"{state.unit} already has its group {state.case_id}")
        check_opening(None, cmd, p.unit, "group")
        _check_composition(p.members, p.leader, p.min_size, p.max_size)
        return [
            s.GroupFormed(
                unit=p.unit,
                members=p.members,
                leader=p.leader,
                congress_session=p.congress_session,
                min_size=p.min_size,
                max_size=p.max_size,
            )
        ]
    if state is None:
        raise NotFound(f"group {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    if isinstance(p, s.ReplaceMember):
        if p.outgoing not in state.members:
            raise Invalid(f"{p.outgoing} is not a member of group {state.case_id}")
        if p.incoming in state.members:
            raise Invalid(f"{p.incoming} already sits in group {state.case_id}")
        members = [p.incoming if m == p.outgoing else m for m in state.members]
        leader = p.leader or state.leader
        if leader == p.outgoing:
            raise Invalid(f"{p.outgoing} leads the group: name the new leader among the members")
        _check_composition(members, leader, state.min_size, state.max_size)
        return [
            s.GroupMemberReplaced(
                outgoing=p.outgoing,
                incoming=p.incoming,
                leader=leader,
                congress_session=p.congress_session,
                reason=p.reason,
            )
        ]
    raise Invalid(f"unknown group command {cmd.meta.command_type!r}")


def convene(state: Group | None, cmd: Command[object], p: s.ConveneReview) -> Forward:
    """Open a suggestion's review with the members who sat at the meeting, as this group knows.

    When it may be opened is the suggestion's to decide: the review is handed on to it. Who
    may open one is settled first, so a role that may not learns nothing of the unit's group.
    """
    require_role(cmd, GROUP, "open a suggestion's review")
    if state is None:
        unit = p.unit or "the unit"
        raise NoGroup(f"{unit} has no democratic-management group; form it first")
    members = state.sitting_at(cmd.occurred_at)
    if not members:
        raise NoGroup(f"no group of {state.unit} sat at {cmd.occurred_at.isoformat()}")
    return Forward(
        case_id=p.suggestion_id,
        command_type="open_review",
        payload=s.OpenReview(group_id=state.case_id, meeting=p.meeting, members=list(members)),
        expected_version=p.expected_version,
    )


def _check_composition(members: Sequence[str], leader: str, low: int, high: int) -> None:
    if low > high:
        raise Invalid(f"the group size bounds {low}–{high} are the wrong way round")
    if len(set(members)) != len(members):
        raise Invalid("a member is listed twice")
    if not low <= len(members) <= high:
        raise Invalid(f"a group has {low} to {high} members, not {len(members)}")
    if leader not in members:
        raise Invalid(f"the leader {leader} must be one of the members")


def evolve_group(state: Group | None, env: Envelope, event: EventPayload) -> Group:
    """Apply one event to a group."""
    at = env.occurred_at
    if isinstance(event, s.GroupFormed):
        return Group(
            case_id=env.case_id,
            unit=event.unit,
            leader=event.leader,
            members=tuple(event.members),
            congress_session=event.congress_session,
            min_size=event.min_size,
            max_size=event.max_size,
            seats=tuple(
                Seat(member=m, since=at, congress_session=event.congress_session)
                for m in event.members
            ),
            opened_at=at,
            last_event_at=at,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before suggestion.group_formed in {env.case_id}")
    if isinstance(event, s.GroupMemberReplaced):
        seats = tuple(
            seat.model_copy(update={"until": at})
            if seat.member == event.outgoing and seat.until is None
            else seat
            for seat in state.seats
        )
        incoming = Seat(member=event.incoming, since=at, congress_session=event.congress_session)
        return state.model_copy(
            update={
                "members": tuple(
                    event.incoming if m == event.outgoing else m for m in state.members
                ),
                "leader": event.leader,
                "seats": (*seats, incoming),
                "last_event_at": at,
            }
        )
    raise ValueError(f"a group cannot apply {env.event_type}")
