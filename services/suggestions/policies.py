"""Policies of democratic management: a replaced member's seat is handed over in open reviews.

A review is opened with the members the group had after some of its replacements. Seen
together under the group, the group's events and its reviews' events tell which: the
earliest point of the group's history whose members are the review's voters. Every
replacement after that point is handed over to the review, in the group's order, whether
the reactor saw the replacement or the review first. One that turns out not to apply (its
outgoing member no longer sits) is refused by the suggestion and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from contracts import suggestion as s
from contracts.commands import CommandEnvelope
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.ids import reaction_command_id
from services.common.reactions import Commands, system_actor
from services.suggestions.service import STREAM

# How many of a group's latest replacements are kept for reviews the reactor has not seen yet.
MAX_REPLACEMENTS = 64


class Replacement(BaseModel):
    """One member replacement of the group."""

    event_id: str
    outgoing: str
    incoming: str


class OpenSeats(BaseModel):
    """A review under way, as far as its seats go."""

    suggestion_id: str
    opened_version: int
    voters: list[str]
    correlation_id: str
    # Whether its point in the group's history is known; from then on it gets every replacement.
    placed: bool = False


class GroupSeats(BaseModel):
    """What the reactor remembers of one group: its recent replacements and its open reviews."""

    group_id: str
    unit: str | None = None
    version: int = 0
    # The members before the first replacement remembered (None until the group is formed).
    start: list[str] | None = None
    replacements: list[Replacement] = Field(default_factory=list)
    reviews: dict[str, OpenSeats] = Field(default_factory=dict)


def file_by_group(
    filed: str | None, env: Envelope, event: EventPayload
) -> tuple[str | None, str | None]:
    """File a group's events under the group, and a review's opening and close under its group.

    `filed` is the group a suggestion's review was filed under, kept until its vote closes.
    """
    if isinstance(event, s.GroupFormed | s.GroupMemberReplaced):
        return env.case_id, filed
    if isinstance(event, s.SuggestionReviewOpened):
        return event.group_id, event.group_id
    if isinstance(event, s.SuggestionVoteClosed):
        return filed, None
    return None, filed


def place(
    start: Sequence[str], replacements: Sequence[Replacement], voters: Sequence[str]
) -> int | None:
    """Return how many replacements came before a review: the earliest point whose members vote.

    None when no point of the history remembered has exactly those members (yet).
    """
    members, wanted = set(start), set(voters)
    if members == wanted:
        return 0
    for index, replacement in enumerate(replacements, start=1):
        members = (members - {replacement.outgoing}) | {replacement.incoming}
        if members == wanted:
            return index
    return None


def hand_over_seats(
    memory: GroupSeats | None, env: Envelope, event: EventPayload, now: datetime
) -> tuple[GroupSeats | None, Commands]:
    """Take one event filed under a group; return the memory after it and the hand-overs due."""
    if isinstance(event, s.GroupFormed | s.GroupMemberReplaced):
        seats = memory or GroupSeats(group_id=env.case_id)
        if env.case_version <= seats.version:
            return memory, []
        return _group_event(seats, env, event, now)
    if isinstance(event, s.SuggestionReviewOpened):
        seats = memory or GroupSeats(group_id=event.group_id)
        known = seats.reviews.get(env.case_id)
        if known is not None and known.opened_version >= env.case_version:
            return memory, []
        review = OpenSeats(
            suggestion_id=env.case_id,
            opened_version=env.case_version,
            voters=list(event.members),
            correlation_id=env.correlation_id,
        )
        return _placed(seats, {**seats.reviews, env.case_id: review}, now)
    if isinstance(event, s.SuggestionVoteClosed) and memory is not None:
        known = memory.reviews.get(env.case_id)
        if known is None or known.opened_version > env.case_version:
            return memory, []
        reviews = {k: v for k, v in memory.reviews.items() if k != env.case_id}
        return memory.model_copy(update={"reviews": reviews}), []
    return memory, []


def _group_event(
    seats: GroupSeats, env: Envelope, event: s.GroupFormed | s.GroupMemberReplaced, now: datetime
) -> tuple[GroupSeats, Commands]:
    if isinstance(event, s.GroupFormed):
        seats = seats.model_copy(
            update={"unit": event.unit, "start": list(event.members), "version": env.case_version}
        )
        return _placed(seats, seats.reviews, now)
    replacement = Replacement(
        event_id=str(env.event_id), outgoing=event.outgoing, incoming=event.incoming
    )
    commands = [
        _hand_over(seats, review, replacement, now)
        for review in seats.reviews.values()
        if review.placed
    ]
    kept = [*seats.replacements, replacement]
    start = seats.start
    while len(kept) > MAX_REPLACEMENTS and start is not None:
        gone, kept = kept[0], kept[1:]
        start = [gone.incoming if m == gone.outgoing else m for m in start]
    seats = seats.model_copy(
        update={"replacements": kept, "start": start, "version": env.case_version}
    )
    placed, more = _placed(seats, seats.reviews, now)
    return placed, [*commands, *more]


def _placed(
    seats: GroupSeats, reviews: dict[str, OpenSeats], now: datetime
) -> tuple[GroupSeats, Commands]:
    """Place the reviews not placed yet, and hand each the replacements after its point."""
    commands: Commands = []
    updated = dict(reviews)
    for suggestion_id, review in reviews.items():
        if review.placed or seats.start is None:
            continue
        point = place(seats.start, seats.replacements, review.voters)
        if point is None:
            continue
        after = seats.replacements[point:]
        commands += [_hand_over(seats, review, r, now) for r in after]
        updated[suggestion_id] = review.model_copy(update={"placed": True})
    return seats.model_copy(update={"reviews": updated}), commands


def _hand_over(
    seats: GroupSeats, review: OpenSeats, replacement: Replacement, now: datetime
) -> tuple[str, CommandEnvelope]:
    # The seat changes hands in the review when the ledger carries it over; the group's own
    # record keeps the moment of the replacement.
    command = CommandEnvelope(
        command_id=reaction_command_id(
            replacement.event_id, "hand_over_seat", review.suggestion_id
        ),
        command_type="hand_over_seat",
        case_id=review.suggestion_id,
        actor=system_actor(seats.unit or "system"),
        issued_at=now,
        occurred_at=now,
        correlation_id=review.correlation_id,
        causation_id=replacement.event_id,
        payload=s.HandOverSeat(
            group_id=seats.group_id, outgoing=replacement.outgoing, incoming=replacement.incoming
        ).model_dump(mode="json"),
        reply=False,
    )
    return STREAM, command
