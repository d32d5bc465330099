"""Suggestions and management proposals (SUG-): submission, review, vote and what follows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import Field

from contracts import suggestion as s
from contracts.envelope import Envelope
from contracts.personal import SealedText
from contracts.registry import EventPayload
from services.common.calendar import local_date
from services.common.domain import (
    Command,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    check_day,
    check_occurred_at,
    check_opening,
    require_role,
)
from services.suggestions.domain.shared import CHAIR, GROUP, SUBMITTERS, State, refuse_status
from services.suggestions.domain.votes import Tally, count, outcome

SUGGESTION_TOPICS: frozenset[str] = frozenset(get_args(s.SuggestionTopic))
PROPOSAL_TOPICS: frozenset[str] = frozenset(get_args(s.ProposalTopic))

SuggestionStatus = Literal[
    "submitted",
    "under_review",
    "no_quorum",
    "adopted",
    "rejected",
    "recommended",
    "vetoed",
    "referred",
    "responded",
    "implemented",
]
SUGGESTION_ALLOWED_FROM: dict[str, tuple[SuggestionStatus, ...]] = {
    "open_review": ("submitted", "no_quorum"),
    "hand_over_seat": ("under_review",),
    "cast_vote": ("under_review",),
    "close_vote": ("under_review",),
    "implement": ("adopted", "recommended", "responded"),
    "refer_to_leadership": ("adopted", "recommended"),
    "record_leadership_response": ("referred",),
}
SUGGESTION_ROLES: dict[str, tuple[str, ...]] = {
    "submit": SUBMITTERS,
    "open_review": GROUP,
    "hand_over_seat": (*CHAIR, "system"),
    "cast_vote": GROUP,
    "close_vote": GROUP,
    "implement": GROUP,
    "refer_to_leadership": CHAIR,
    "record_leadership_response": GROUP,
}


class Review(State):
    """The group's review of a suggestion at a meeting, and who sits for its vote."""

    group_id: str
    meeting: str
    members: tuple[str, ...]
    opened_at: datetime


class Suggestion(State):
    """A suggestion or management proposal as it stands after its events."""

    case_id: str
    case_type: Literal["suggestion"] = "suggestion"
    unit: str
    kind: s.Kind
    topic: s.Topic
    title: SealedText
    submitted_by: s.Submitter
    person_id: str | None
    status: SuggestionStatus
    opened_at: datetime
    last_event_at: datetime
    reviews: int = 0
    review: Review | None = None
    votes: dict[str, s.Vote] = Field(default_factory=dict)
    tally: Tally | None = None
    outcome: s.Outcome | None = None
    decided_at: datetime | None = None
    referral_owner: str | None = None
    referral_due: str | None = None
    leadership_response: SealedText | None = None
    implementation: SealedText | None = None
    implemented_at: datetime | None = None


def decide_suggestion(state: Suggestion | None, cmd: Command[object]) -> list[EventPayload]:
    """Turn a suggestion command into events, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, SUGGESTION_ROLES.get(kind, ()), f"{kind.replace('_', ' ')} a suggestion")
    p = cmd.payload
    if isinstance(p, s.Submit):
        return _submit(state, cmd, p)
    if state is None:
        raise NotFound(f"suggestion {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    if isinstance(p, s.Implement) and state.status == "vetoed":
        raise Refused(
            f"{state.case_id} was vetoed by the group: a vetoed proposal is not carried out"
        )
    allowed = SUGGESTION_ALLOWED_FROM.get(kind, ())
    if state.status not in allowed:
        raise refuse_status(kind.replace("_", " "), state.case_id, state.status, allowed)
    match p:
        case s.OpenReview(group_id=group_id, meeting=meeting, members=members):
            if len(set(members)) != len(members):
                raise Invalid("a member is listed twice")
            return [s.SuggestionReviewOpened(group_id=group_id, meeting=meeting, members=members)]
        case s.HandOverSeat(group_id=group_id, outgoing=outgoing, incoming=incoming):
            return _hand_over(state, group_id, outgoing, incoming)
        case s.CastVote(member=member, vote=vote):
            return _vote(state, cmd, member, vote)
        case s.CloseVote():
            assert state.tally is not None, "a review under way always has a tally"
            return [
                s.SuggestionVoteClosed(
                    outcome=outcome(state.kind, state.tally),
                    sitting=state.tally.sitting,
                    votes_for=state.tally.votes_for,
                    votes_against=state.tally.votes_against,
                    abstentions=state.tally.abstentions,
                )
            ]
        case s.Implement(note=note):
            return [s.SuggestionImplemented(note=note)]
        case s.ReferToLeadership(owner=owner, due=due):
            check_day(due, local_date(cmd.occurred_at), "the follow-up due date", ahead=True)
            return [s.SuggestionReferredToLeadership(owner=owner, due=due)]
        case s.RecordLeadershipResponse(response=response):
            return [s.SuggestionLeadershipResponded(response=response)]
    raise Invalid(f"unknown suggestion command {kind!r}")


def _submit(state: Suggestion | None, cmd: Command[object], p: s.Submit) -> list[EventPayload]:
    check_opening(state, cmd, p.unit, "suggestion")
    role = cmd.meta.actor.role
    if p.anonymous and p.worker is not None:
        raise Invalid("give either the worker or anonymous: true, not both")
    submitted_by: s.Submitter
    if p.kind == "management_proposal":
        if p.topic not in PROPOSAL_TOPICS:
            raise Invalid(
                f"a management proposal concerns one of {', '.join(sorted(PROPOSAL_TOPICS))},"
                f" not {p.topic}"
            )
        if role == "worker_rep" or p.anonymous or p.worker is not None:
            raise Invalid("management proposals come from management and are recorded by the group")
        submitted_by = "management"
    else:
        if p.topic not in SUGGESTION_TOPICS:
            raise Invalid(
                f"a suggestion concerns one of {', '.join(sorted(SUGGESTION_TOPICS))},"
                f" not {p.topic}"
            )
        if p.worker is not None:
            submitted_by = "worker"
        elif p.anonymous:
            submitted_by = "anonymous_worker"
        elif role == "worker_rep":
            raise Invalid("a rep submits for a worker: give the worker or anonymous: true")
        else:
            submitted_by = "member"
    return [
        s.SuggestionSubmitted(
            unit=p.unit,
            kind=p.kind,
            topic=p.topic,
            title=p.title,
            content=p.content,
            submitted_by=submitted_by,
            worker=p.worker,
        )
    ]


def _hand_over(
    state: Suggestion, group_id: str, outgoing: str, incoming: str
) -> list[EventPayload]:
    assert state.review is not None, "a review under way always has its members"
    if group_id != state.review.group_id:
        raise Invalid(f"{state.case_id} is reviewed by {state.review.group_id}, not {group_id}")
    if outgoing not in state.review.members:
        raise Invalid(f"{outgoing} does not sit for the review of {state.case_id}")
    if incoming in state.review.members:
        raise Invalid(f"{incoming} already sits for the review of {state.case_id}")
    return [s.SuggestionSeatHandedOver(outgoing=outgoing, incoming=incoming)]


def _vote(state: Suggestion, cmd: Command[object], member: str, vote: s.Vote) -> list[EventPayload]:
    assert state.review is not None, "a review under way always has its members"
    if member != cmd.meta.actor.user_id:
        raise Forbidden(
            f"members vote as themselves: you are {cmd.meta.actor.user_id}, not {member}"
        )
    if member not in state.review.members:
        raise Forbidden(
            f"{member} does not sit in group {state.review.group_id} for this vote;"
            f" the sitting members are {', '.join(state.review.members)}"
        )
    if member in state.votes:
        raise Refused(f"{member} has already voted on {state.case_id}; one vote per member")
    return [s.SuggestionVoteCast(member=member, vote=vote)]


def evolve_suggestion(state: Suggestion | None, env: Envelope, event: EventPayload) -> Suggestion:
    """Apply one event to a suggestion; the tally is kept as of every event."""
    at = env.occurred_at
    if isinstance(event, s.SuggestionSubmitted):
        return Suggestion(
            case_id=env.case_id,
            unit=event.unit,
            kind=event.kind,
            topic=event.topic,
            title=event.title,
            submitted_by=event.submitted_by,
            person_id=event.worker.person_id if event.worker else None,
            status="submitted",
            opened_at=at,
            last_event_at=at,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before suggestion.submitted in {env.case_id}")
    st = state.model_copy(update={"last_event_at": at})
    match event:
        case s.SuggestionReviewOpened(group_id=group_id, meeting=meeting, members=members):
            review = Review(
                group_id=group_id, meeting=meeting, members=tuple(members), opened_at=at
            )
            return st.model_copy(
                update={
                    "status": "under_review",
                    "reviews": st.reviews + 1,
                    "review": review,
                    "votes": {},
                    "tally": count(review.members, {}),
                    "outcome": None,
                    "decided_at": None,
                }
            )
        case s.SuggestionSeatHandedOver(outgoing=outgoing, incoming=incoming):
            assert st.review is not None
            seated = tuple(incoming if m == outgoing else m for m in st.review.members)
            votes = {(incoming if m == outgoing else m): v for m, v in st.votes.items()}
            review = st.review.model_copy(update={"members": seated})
            return st.model_copy(
                update={"review": review, "votes": votes, "tally": count(seated, votes)}
            )
        case s.SuggestionVoteCast(member=member, vote=vote):
            assert st.review is not None
            votes = {**st.votes, member: vote}
            return st.model_copy(update={"votes": votes, "tally": count(st.review.members, votes)})
        case s.SuggestionVoteClosed(outcome=result):
            return st.model_copy(update={"status": result, "outcome": result, "decided_at": at})
        case s.SuggestionImplemented(note=note):
            return st.model_copy(
                update={"status": "implemented", "implementation": note, "implemented_at": at}
            )
        case s.SuggestionReferredToLeadership(owner=owner, due=due):
            return st.model_copy(
                update={"status": "referred", "referral_owner": owner, "referral_due": str(due)}
            )
        case s.SuggestionLeadershipResponded(response=response):
            return st.model_copy(update={"status": "responded", "leadership_response": response})
    raise ValueError(f"a suggestion cannot apply {env.event_type}")
