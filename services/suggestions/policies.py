"""Policies of democratic management: a replaced member's seat is handed over in open reviews.

The group's events and its reviews' events are seen together under the group. A
replacement reaches a review when it happened after the meeting the review was opened at,
or was recorded after the review was opened: the review's voters, taken from the group as
it sat at the meeting, could not show it. Replacements reach a review in the group's order,
whether the reactor sees the replacement or the review first. One that turns out not to
apply (its outgoing member no longer sits) is refused by the suggestion and writes nothing.
"""

from __future__ import annotations

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
    """One member replacement of the group: when it happened, and when it was recorded."""

    event_id: str
    outgoing: str
    incoming: str
    occurred_at: datetime
    recorded_at: datetime


class OpenSeats(BaseModel):
    """A review under way, as far as its seats go: when its voters were taken."""

    suggestion_id: str
    opened_version: int
    met_at: datetime
    opened_at: datetime
    correlation_id: str


class GroupSeats(BaseModel):
    """What the reactor remembers of one group: its latest replacements and its open reviews."""

    group_id: str
    unit: str | None = None
    version: int = 0
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


def reaches(replacement: Replacement, review: OpenSeats) -> bool:
    """Whether a replacement is missing from a review's voters, so its seat is to be handed over.

    The voters are the members sitting at the meeting as the group stood when the review
    was opened: a replacement after the meeting, or recorded after the opening, is not among
    them; one before both is.
    """
    return replacement.occurred_at > review.met_at or replacement.recorded_at > review.opened_at


def hand_over_seats(
    memory: GroupSeats | None, env: Envelope, event: EventPayload, now: datetime
) -> tuple[GroupSeats | None, Commands]:
    """Take one event filed under a group; return the memory after it and the hand-overs due."""
    if isinstance(event, s.GroupFormed | s.GroupMemberReplaced):
        seats = memory or GroupSeats(group_id=env.case_id)
        if env.case_version <= seats.version:
            return memory, []
        if isinstance(event, s.GroupFormed):
            return seats.model_copy(update={"unit": event.unit, "version": env.case_version}), []
        return _replaced(seats, env, event, now)
    if isinstance(event, s.SuggestionReviewOpened):
        seats = memory or GroupSeats(group_id=event.group_id)
        known = seats.reviews.get(env.case_id)
        if known is not None and known.opened_version >= env.case_version:
            return memory, []
        review = OpenSeats(
            suggestion_id=env.case_id,
            opened_version=env.case_version,
            met_at=env.occurred_at,
            opened_at=env.recorded_at,
            correlation_id=env.correlation_id,
        )
        reviews = {**seats.reviews, env.case_id: review}
        commands = [_hand_over(seats, review, r, now) for r in seats.replacements]
        return seats.model_copy(update={"reviews": reviews}), [c for c in commands if c]
    if isinstance(event, s.SuggestionVoteClosed) and memory is not None:
        known = memory.reviews.get(env.case_id)
        if known is None or known.opened_version > env.case_version:
            return memory, []
        reviews = {k: v for k, v in memory.reviews.items() if k != env.case_id}
        return memory.model_copy(update={"reviews": reviews}), []
    return memory, []


def _replaced(
    seats: GroupSeats, env: Envelope, event: s.GroupMemberReplaced, now: datetime
) -> tuple[GroupSeats, Commands]:
    replacement = Replacement(
        event_id=str(env.event_id),
        outgoing=event.outgoing,
        incoming=event.incoming,
        occurred_at=env.occurred_at,
        recorded_at=env.recorded_at,
    )
    commands = [_hand_over(seats, review, replacement, now) for review in seats.reviews.values()]
    kept = [*seats.replacements, replacement][-MAX_REPLACEMENTS:]
    update = {"replacements": kept, "version": env.case_version}
    return seats.model_copy(update=update), [c for c in commands if c]


def _hand_over(
    seats: GroupSeats, review: OpenSeats, replacement: Replacement, now: datetime
) -> tuple[str, CommandEnvelope] | None:
    """The command handing a replacement's seat over in a review, if it reaches the review."""
    if not reaches(replacement, review):
        return None
    assert seats.unit is not None, "a group is formed before any of its members is replaced"
    # The seat changes hands in the review when the ledger carries it over; the group's own
    # record keeps the moment of the replacement.
    command = CommandEnvelope(
        command_id=reaction_command_id(
            replacement.event_id, "hand_over_seat", review.suggestion_id
        ),
        command_type="hand_over_seat",
        case_id=review.suggestion_id,
        actor=system_actor(seats.unit),
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
