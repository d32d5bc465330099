"""Queries (质询) a democratic-management group puts to management: their events and commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.envelope import Frozen
from contracts.personal import Sealed, SealedText, as_written
from contracts.registry import REGISTRY, EventPayload

QueryArea = Literal[
    "performance_appraisal", "quality", "safety", "training", "welfare", "ideological_work"
]


@REGISTRY.register
class QueryRaised(EventPayload):
    """The group put a formal query (质询) to management; v2 seals the question."""

    event_type = "suggestion.query_raised"
    schema_version = 2

    unit: str
    area: QueryArea
    question: SealedText
    addressed_to: str = Field(min_length=1, max_length=200)


@REGISTRY.register
class QueryAnswered(EventPayload):
    """Management's answer to the query, as recorded by the group; v2 seals it."""

    event_type = "suggestion.query_answered"
    schema_version = 2

    answer: SealedText


@REGISTRY.register
class QueryAnswerAccepted(EventPayload):
    """The group accepted the answer."""

    event_type = "suggestion.query_answer_accepted"


@REGISTRY.register
class QueryAnswerRejected(EventPayload):
    """The group did not accept the answer, and why (sealed from v2); management answers again."""

    event_type = "suggestion.query_answer_rejected"
    schema_version = 2

    reason: SealedText


# The versions that seal free text read what was written in clear before as it was written.
for _sealed_later in (
    "suggestion.query_raised",
    "suggestion.query_answered",
    "suggestion.query_answer_rejected",
):
    REGISTRY.upcaster(_sealed_later, 1)(as_written)


# --- commands ---------------------------------------------------------------


class RaiseQuery(Frozen):
    """Raise a query to management; the question arrives sealed."""

    unit: str
    area: QueryArea
    question: Sealed
    addressed_to: str = Field(min_length=1, max_length=200)


class AnswerQuery(Frozen):
    """Record management's answer; it arrives sealed."""

    answer: Sealed


class AcceptAnswer(Frozen):
    """Accept the answer."""


class RejectAnswer(Frozen):
    """Reject the answer; the reason arrives sealed."""

    reason: Sealed


QUERY_COMMANDS: dict[str, type[Frozen]] = {
    "raise": RaiseQuery,
    "answer": AnswerQuery,
    "accept_answer": AcceptAnswer,
    "reject_answer": RejectAnswer,
}
