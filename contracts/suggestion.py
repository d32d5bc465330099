"""Democratic management (民主管理): groups, suggestions and proposals with their votes."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Frozen
from contracts.personal import Sealed, SealedPerson, SealedText, as_written
from contracts.queries import QUERY_COMMANDS as QUERY_COMMANDS

# The queries' events and commands, read through this module as before they had their own.
from contracts.queries import AcceptAnswer as AcceptAnswer
from contracts.queries import AnswerQuery as AnswerQuery
from contracts.queries import QueryAnswerAccepted as QueryAnswerAccepted
from contracts.queries import QueryAnswered as QueryAnswered
from contracts.queries import QueryAnswerRejected as QueryAnswerRejected
from contracts.queries import QueryArea as QueryArea
from contracts.queries import QueryRaised as QueryRaised
from contracts.queries import RaiseQuery as RaiseQuery
from contracts.queries import RejectAnswer as RejectAnswer
from contracts.registry import REGISTRY, EventPayload

Kind = Literal["suggestion", "management_proposal"]
SuggestionTopic = Literal[
    "performance_appraisal",
    "quality",
    "safety",
    "training",
    "welfare",
    "ideological_work",
    "production",
    "other",
]
ProposalTopic = Literal["rule_revision", "job_change", "wage_payment", "award"]
Topic = SuggestionTopic | ProposalTopic
Vote = Literal["for", "against", "abstain"]
Outcome = Literal["adopted", "rejected", "recommended", "vetoed", "no_quorum"]
Submitter = Literal["worker", "anonymous_worker", "member", "management"]
UserId = Field(min_length=1, max_length=128)


# --- events: groups ---------------------------------------------------------


@REGISTRY.register
class GroupFormed(EventPayload):
    """A unit's democratic-management group (民主管理小组), as the workers' congress elected it."""

    event_type = "suggestion.group_formed"

    unit: str
    members: list[str] = Field(min_length=1, max_length=50)
    leader: str = UserId
    congress_session: str = Field(min_length=1, max_length=200)
    min_size: int = Field(ge=1, le=50)
    max_size: int = Field(ge=1, le=50)


@REGISTRY.register
class GroupMemberReplaced(EventPayload):
    """One member left the group and another took the seat; v2 seals the reason."""

    event_type = "suggestion.group_member_replaced"
    schema_version = 2

    outgoing: str = UserId
    incoming: str = UserId
    leader: str = UserId
    congress_session: str = Field(min_length=1, max_length=200)
    reason: SealedText | None = None


# --- events: suggestions and management proposals ---------------------------


@REGISTRY.register
class SuggestionSubmitted(EventPayload):
    """A suggestion (合理化建议) or management proposal was put to the group; v2 seals the title."""

    event_type = "suggestion.submitted"
    schema_version = 2

    unit: str
    kind: Kind
    topic: Topic
    title: SealedText
    content: Sealed
    submitted_by: Submitter
    worker: SealedPerson | None = None


@REGISTRY.register
class SuggestionReviewOpened(EventPayload):
    """The group took the matter up at a meeting; the members sitting then are the voters."""

    event_type = "suggestion.review_opened"

    group_id: str = Field(pattern=r"^GRP-[0-9A-Z]{4,40}$")
    meeting: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(min_length=1, max_length=50)


@REGISTRY.register
class SuggestionSeatHandedOver(EventPayload):
    """A member replaced during an open review hands their seat, and any vote cast from it, on."""

    event_type = "suggestion.seat_handed_over"

    outgoing: str = UserId
    incoming: str = UserId


@REGISTRY.register
class SuggestionVoteCast(EventPayload):
    """One sitting member voted."""

    event_type = "suggestion.vote_cast"

    member: str = UserId
    vote: Vote


@REGISTRY.register
class SuggestionVoteClosed(EventPayload):
    """The vote was closed and counted: the outcome and the tally it rests on."""

    event_type = "suggestion.vote_closed"

    outcome: Outcome
    sitting: int = Field(ge=1)
    votes_for: int = Field(ge=0)
    votes_against: int = Field(ge=0)
    abstentions: int = Field(ge=0)


@REGISTRY.register
class SuggestionImplemented(EventPayload):
    """The adopted suggestion (or proposal) was carried out, and what was done; v2 seals it."""

    event_type = "suggestion.implemented"
    schema_version = 2

    note: SealedText


@REGISTRY.register
class SuggestionReferredToLeadership(EventPayload):
    """Not solvable at once: referred to the leadership team with a named follow-up owner."""

    event_type = "suggestion.referred_to_leadership"

    to: Literal["leadership_team"] = "leadership_team"
    owner: str = UserId
    due: date


@REGISTRY.register
class SuggestionLeadershipResponded(EventPayload):
    """The leadership team's answer to a referred suggestion; v2 seals it."""

    event_type = "suggestion.leadership_responded"
    schema_version = 2

    response: SealedText


# The versions that seal free text read what was written in clear before as it was written.
for _sealed_later in (
    "suggestion.group_member_replaced",
    "suggestion.submitted",
    "suggestion.implemented",
    "suggestion.leadership_responded",
):
    REGISTRY.upcaster(_sealed_later, 1)(as_written)


# --- commands ---------------------------------------------------------------


class FormGroup(Frozen):
    """Record the group the workers' congress elected; the size bounds come from the unit."""

    unit: str
    members: list[str] = Field(min_length=1, max_length=50)
    leader: str = UserId
    congress_session: str = Field(min_length=1, max_length=200)
    min_size: int = Field(default=5, ge=1, le=50)
    max_size: int = Field(default=7, ge=1, le=50)


class ReplaceMember(Frozen):
    """Replace one member; name a new leader when the leader leaves."""

    outgoing: str = UserId
    incoming: str = UserId
    leader: str | None = Field(default=None, min_length=1, max_length=128)
    congress_session: str = Field(min_length=1, max_length=200)
    reason: Sealed | None = None


class Submit(Frozen):
    """Put a suggestion or proposal to the group; its words and the worker arrive sealed."""

    unit: str
    kind: Kind
    topic: Topic
    title: Sealed
    content: Sealed
    anonymous: bool = False
    worker: SealedPerson | None = None


class OpenReview(Frozen):
    """Open the group's review; the members are the group as it sits at that moment."""

    group_id: str = Field(pattern=r"^GRP-[0-9A-Z]{4,40}$")
    meeting: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(min_length=1, max_length=50)


class ConveneReview(Frozen):
    """Sent to the group: open a suggestion's review with the members sitting at that moment."""

    suggestion_id: str = Field(pattern=r"^SUG-[0-9A-Z]{4,40}$")
    meeting: str = Field(min_length=1, max_length=200)
    # The version the suggestion is expected at, checked where the review is opened.
    expected_version: int | None = Field(default=None, ge=0)
    # The suggestion's unit, named when it turns out to have no group yet.
    unit: str | None = Field(default=None, min_length=1, max_length=256)


class HandOverSeat(Frozen):
    """Carry a member replacement of the reviewing group into an open review."""

    group_id: str = Field(pattern=r"^GRP-[0-9A-Z]{4,40}$")
    outgoing: str = UserId
    incoming: str = UserId


class CastVote(Frozen):
    """A member's own vote."""

    member: str = UserId
    vote: Vote


class CloseVote(Frozen):
    """Close the vote and count it."""


class Implement(Frozen):
    """Record that it was carried out; the note arrives sealed."""

    note: Sealed


class ReferToLeadership(Frozen):
    """Refer to the leadership team with a named follow-up owner and due date."""

    owner: str = UserId
    due: date


class RecordLeadershipResponse(Frozen):
    """Record the leadership team's answer; it arrives sealed."""

    response: Sealed


GROUP_COMMANDS: dict[str, type[Frozen]] = {
    "form": FormGroup,
    "replace_member": ReplaceMember,
    "convene_review": ConveneReview,
}
SUGGESTION_COMMANDS: dict[str, type[Frozen]] = {
    "submit": Submit,
    "open_review": OpenReview,
    "hand_over_seat": HandOverSeat,
    "cast_vote": CastVote,
    "close_vote": CloseVote,
    "implement": Implement,
    "refer_to_leadership": ReferToLeadership,
    "record_leadership_response": RecordLeadershipResponse,
}
