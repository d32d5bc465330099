"""Democratic-management rules: groups, votes on suggestions and proposals, queries; no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from contracts import suggestion as s
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.calendar import local_date
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

GROUP_PREFIX, SUGGESTION_PREFIX, QUERY_PREFIX = "GRP", "SUG", "QRY"
CHAIR = ("union_chair",)
GROUP = ("group_member", "union_chair")
SUBMITTERS = ("worker_rep", "group_member", "union_chair")

SUGGESTION_TOPICS: frozenset[str] = frozenset(get_args(s.SuggestionTopic))
PROPOSAL_TOPICS: frozenset[str] = frozenset(get_args(s.ProposalTopic))


class State(BaseModel):
    """Base of the three case states: frozen, strict."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _refuse_status(what: str, case_id: str, status: str, allowed: Sequence[str]) -> Refused:
    return Refused(
        f"cannot {what} {case_id}: it is {status.replace('_', ' ')}"
        f" (possible only when {' or '.join(a.replace('_', ' ') for a in allowed)})"
    )


# --- voting rules -------------------------------------------------------------


class Tally(State):
    """The count of a vote over the members sitting for it."""

    sitting: int
    votes_for: int = 0
    votes_against: int = 0
    abstentions: int = 0

    @property
    def voted(self) -> int:
        """How many sitting members voted at all."""
        return self.votes_for + self.votes_against + self.abstentions


def count(members: Sequence[str], votes: Mapping[str, s.Vote]) -> Tally:
    """Count the votes cast from the sitting members' seats."""
    cast = [votes[m] for m in members if m in votes]
    return Tally(
        sitting=len(members),
        votes_for=cast.count("for"),
        votes_against=cast.count("against"),
        abstentions=cast.count("abstain"),
    )


def has_quorum(tally: Tally) -> bool:
    """At least two thirds of the sitting members voted."""
    return 3 * tally.voted >= 2 * tally.sitting


def carried(tally: Tally) -> bool:
    """A majority of all sitting members, not of those voting, voted for."""
    return 2 * tally.votes_for > tally.sitting


def outcome(kind: s.Kind, tally: Tally) -> s.Outcome:
    """Decide a closed vote: no quorum, or carried or not; a proposal not carried is vetoed."""
    if not has_quorum(tally):
        return "no_quorum"
    if kind == "management_proposal":
        return "recommended" if carried(tally) else "vetoed"
    return "adopted" if carried(tally) else "rejected"


# --- groups (GRP-) ------------------------------------------------------------


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


def decide_group(state: Group | None, cmd: Command[object]) -> list[EventPayload]:
    """Turn a group command into events, or refuse it."""
    require_role(cmd, CHAIR, f"{cmd.meta.command_type.replace('_', ' ')} a group")
    p = cmd.payload
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


# --- suggestions and management proposals (SUG-) ------------------------------

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
    "hand_over_seat": CHAIR,
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
    title: str
    submitted_by: s.Submitter
    person_id: str | None
    status: SuggestionStatus
    opened_at: datetime
    last_event_at: datetime
    reviews: int = 0
    review: Review | None = None
    votes: dict[str, s.Vote] = {}
    tally: Tally | None = None
    outcome: s.Outcome | None = None
    decided_at: datetime | None = None
    referral_owner: str | None = None
    referral_due: str | None = None
    leadership_response: str | None = None
    implementation: str | None = None
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
        raise _refuse_status(kind.replace("_", " "), state.case_id, state.status, allowed)
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
            if due < local_date(cmd.occurred_at):
                raise Invalid("the follow-up due date is already past")
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


# --- queries (QRY-, 质询) ------------------------------------------------------

QueryStatus = Literal["raised", "answered", "answer_accepted", "answer_rejected"]
QUERY_ALLOWED_FROM: dict[str, tuple[QueryStatus, ...]] = {
    "answer": ("raised", "answer_rejected"),
    "accept_answer": ("answered",),
    "reject_answer": ("answered",),
}


class Query(State):
    """A query to management as it stands after its events."""

    case_id: str
    case_type: Literal["query"] = "query"
    unit: str
    area: s.QueryArea
    question: str
    addressed_to: str
    status: QueryStatus
    opened_at: datetime
    last_event_at: datetime
    answers: int = 0
    answer: str | None = None
    rejection_reason: str | None = None


def decide_query(state: Query | None, cmd: Command[object]) -> list[EventPayload]:
    """Turn a query command into events, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, GROUP, f"{kind.replace('_', ' ')} a query")
    p = cmd.payload
    if isinstance(p, s.RaiseQuery):
        check_opening(state, cmd, p.unit, "query")
        return [
            s.QueryRaised(
                unit=p.unit, area=p.area, question=p.question, addressed_to=p.addressed_to
            )
        ]
    if state is None:
        raise NotFound(f"query {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    allowed = QUERY_ALLOWED_FROM.get(kind, ())
    if state.status not in allowed:
        raise _refuse_status(kind.replace("_", " "), state.case_id, state.status, allowed)
    match p:
        case s.AnswerQuery(answer=answer):
            return [s.QueryAnswered(answer=answer)]
        case s.AcceptAnswer():
            return [s.QueryAnswerAccepted()]
        case s.RejectAnswer(reason=reason):
            return [s.QueryAnswerRejected(reason=reason)]
    raise Invalid(f"unknown query command {kind!r}")


def evolve_query(state: Query | None, env: Envelope, event: EventPayload) -> Query:
    """Apply one event to a query."""
    at = env.occurred_at
    if isinstance(event, s.QueryRaised):
        return Query(
            case_id=env.case_id,
            unit=event.unit,
            area=event.area,
            question=event.question,
            addressed_to=event.addressed_to,
            status="raised",
            opened_at=at,
            last_event_at=at,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before suggestion.query_raised in {env.case_id}")
    q = state.model_copy(update={"last_event_at": at})
    match event:
        case s.QueryAnswered(answer=answer):
            return q.model_copy(
                update={
                    "status": "answered",
                    "answer": answer,
                    "answers": q.answers + 1,
                    "rejection_reason": None,
                }
            )
        case s.QueryAnswerAccepted():
            return q.model_copy(update={"status": "answer_accepted"})
        case s.QueryAnswerRejected(reason=reason):
            return q.model_copy(update={"status": "answer_rejected", "rejection_reason": reason})
    raise ValueError(f"a query cannot apply {env.event_type}")
