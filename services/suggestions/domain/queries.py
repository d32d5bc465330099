"""Queries (QRY-, 质询): the group's questions to management, answered until accepted."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from contracts import suggestion as s
from contracts.envelope import Envelope
from contracts.personal import SealedText
from contracts.registry import EventPayload
from services.common.domain import (
    Command,
    Invalid,
    NotFound,
    check_occurred_at,
    check_opening,
    require_role,
)
from services.suggestions.domain.shared import GROUP, State, refuse_status

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
    question: SealedText
    addressed_to: str
    status: QueryStatus
    opened_at: datetime
    last_event_at: datetime
    answers: int = 0
    answer: SealedText | None = None
    rejection_reason: SealedText | None = None


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
        raise refuse_status(kind.replace("_", " "), state.case_id, state.status, allowed)
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
