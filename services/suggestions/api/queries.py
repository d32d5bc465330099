"""HTTP routes of queries (质询): the group's formal questions to management, and the answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from contracts import suggestion as s
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Moment, Transition
from services.common.commands import Opening, Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.queries import (
    Page,
    Skip,
    case_view,
    history_route,
    listing,
    revealed,
    row_to_read,
    sealing_key,
)
from services.suggestions.api import Text
from services.suggestions.domain import QUERY_PREFIX, QueryStatus

router = APIRouter(prefix="/queries", tags=["queries"])
# The free text a query's state holds sealed, shown to whoever may read the query.
TEXTS = ("question", "answer", "rejection_reason")


class RaiseBody(Body):
    """A query the group puts to management."""

    unit: str = Field(min_length=1, max_length=256)
    area: s.QueryArea
    question: str = Text
    addressed_to: str = Field(min_length=1, max_length=200)
    raised_at: Moment | None = None


class AnswerBody(Transition):
    answer: str = Text


class RejectBody(Transition):
    reason: str = Text


def _raised(ctx: ServiceContext, case_id: str, body: RaiseBody) -> s.RaiseQuery:
    """Seal the question under the query's own key."""
    return s.RaiseQuery(
        unit=body.unit,
        area=body.area,
        question=ctx.sealer.seal(f"CASE-{case_id}", body.question),
        addressed_to=body.addressed_to,
    )


command_routes(
    router,
    opening=Opening(
        name="raise_query",
        description="Raise a query to management.",
        command="raise",
        body=RaiseBody,
        prefix=QUERY_PREFIX,
        payload=_raised,
        what="raise queries",
        occurred_at="raised_at",
    ),
    verbs=[
        Verb(
            "answer",
            "answer",
            "Record management's answer.",
            AnswerBody,
            lambda ctx, row, b: s.AnswerQuery(answer=ctx.sealer.seal(sealing_key(row), b.answer)),
            name="answer_query",
        ),
        Verb(
            "accept-answer",
            "accept_answer",
            "Accept the answer.",
            Transition,
            lambda _ctx, _row, _b: s.AcceptAnswer(),
            optional=True,
        ),
        Verb(
            "reject-answer",
            "reject_answer",
            "Reject the answer; management answers again.",
            RejectBody,
            lambda ctx, row, b: s.RejectAnswer(reason=ctx.sealer.seal(sealing_key(row), b.reason)),
        ),
    ],
    prefix=QUERY_PREFIX,
)


def _view(ctx: ServiceContext, row: Any) -> dict[str, Any]:
    """A query as its readers see it: the question, the answer and the rejection opened."""
    return revealed(ctx.sealer, case_view(row), TEXTS)


@router.get("")
async def list_queries(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    area: s.QueryArea | None = None,
    status: QueryStatus | None = None,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """List queries in the caller's units, newest first."""
    filters = {"case_type": "query", "area": area, "status": status}
    return listing(ctx, actor, unit, filters, limit, offset, view=lambda row: _view(ctx, row))


@router.get("/{case_id}")
async def get_query(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one query as it stands."""
    return _view(ctx, row_to_read(ctx, actor, case_id, prefix=QUERY_PREFIX))


history_route(
    router,
    "query_history",
    "Return the query's events, oldest first, as recorded; `opened` gives their text.",
    prefix=QUERY_PREFIX,
    texts=("question", "answer", "reason"),
)
