"""HTTP routes of democratic management: thin views that build commands and read the projection."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field, model_validator

from contracts import suggestion as s
from contracts.catalog import CASE_TYPES
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.common.http import (
    Body,
    CommandResult,
    Ctx,
    CurrentActor,
    IdempotencyKey,
    Problem,
    ServiceContext,
    Transition,
    case_row_for,
    case_view,
    check_unit,
    created,
    list_scope,
    no_admin,
    submit,
    transition,
)
from services.common.ids import command_id_for, new_case_id
from services.common.units import Units
from services.suggestions.domain import (
    GROUP_PREFIX,
    QUERY_PREFIX,
    SUGGESTION_PREFIX,
    QueryStatus,
    SuggestionStatus,
)

groups = APIRouter(prefix="/groups", tags=["groups"])
suggestions = APIRouter(prefix="/suggestions", tags=["suggestions"])
queries = APIRouter(prefix="/queries", tags=["queries"])

CONTENT_ROLES = ("worker_rep", "group_member", "union_chair")
WORKER_ROLES = ("worker_rep", "union_chair")
SEALED = "[sealed]"
DEFAULT_GROUP_SIZE = (5, 7)
UserId = Field(min_length=1, max_length=128)
Text = Field(min_length=1, max_length=2000)


def group_id_for(unit: str) -> str:
    """Return the id of a unit's group: one group per unit, found without a search."""
    return new_case_id(GROUP_PREFIX, f"group\x1f{unit}")


def group_size(units: Units, unit_id: str) -> tuple[int, int]:
    """Return the nearest group-size bounds up the unit tree, or 5–7."""
    parts = unit_id.split("/")
    for i in range(len(parts), 0, -1):
        unit = units.get("/".join(parts[:i]))
        if unit and unit.group_size:
            return unit.group_size
    return DEFAULT_GROUP_SIZE


# --- shared view helpers ---------------------------------------------------------------


def _row(ctx: ServiceContext, actor: Actor, case_id: str, prefix: str, *, acting: bool) -> Any:
    noun = CASE_TYPES[prefix].noun
    if not case_id.startswith(f"{prefix}-"):
        raise Problem(404, "Not found", f"no {noun} {case_id} in your units")
    return case_row_for(ctx, actor, case_id, acting=acting)


async def _transition(
    ctx: ServiceContext,
    actor: Actor,
    case_id: str,
    prefix: str,
    command_type: str,
    body: Transition,
    payload: Any,
    key: str | None,
) -> CommandResult:
    row = _row(ctx, actor, case_id, prefix, acting=True)
    resource = CASE_TYPES[prefix].resource
    return await transition(
        ctx, actor, case_id, command_type, body, payload, key, resource=resource, row=row
    )


def _list(
    ctx: ServiceContext,
    actor: Actor,
    unit: str | None,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    no_admin(actor)
    scope = list_scope(actor, unit)
    total, rows = ctx.model.query(units=scope, filters=filters, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [case_view(r) for r in rows]}


def _history(ctx: ServiceContext, actor: Actor, case_id: str, prefix: str) -> dict[str, Any]:
    no_admin(actor)
    _row(ctx, actor, case_id, prefix, acting=False)
    return {"case_id": case_id, "events": ctx.model.history(case_id)}


Page = Annotated[int, Query(ge=1, le=200)]
Skip = Annotated[int, Query(ge=0)]


# --- groups ------------------------------------------------------------------------------


class FormBody(Body):
    """A group as the workers' congress elected it."""

    unit: str = Field(min_length=1, max_length=256)
    members: list[Annotated[str, UserId]] = Field(min_length=1, max_length=50)
    leader: str = UserId
    congress_session: str = Field(min_length=1, max_length=200)
    formed_at: AwareDatetime | None = None


class ReplaceBody(Transition):
    outgoing: str = UserId
    incoming: str = UserId
    leader: str | None = Field(default=None, min_length=1, max_length=128)
    congress_session: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


@groups.post("", status_code=201, response_model=CommandResult)
async def form_group(
    body: FormBody, ctx: Ctx, actor: CurrentActor, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Record a unit's democratic-management group, elected by the workers' congress."""
    check_unit(ctx, actor, body.unit, "record groups")
    low, high = group_size(ctx.units, body.unit)
    case_id = group_id_for(body.unit)
    payload = s.FormGroup(
        unit=body.unit,
        members=body.members,
        leader=body.leader,
        congress_session=body.congress_session,
        min_size=low,
        max_size=high,
    )
    result = await submit(
        ctx,
        actor,
        command_type="form",
        case_id=case_id,
        command_id=command_id_for(actor, "groups", idempotency_key),
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.formed_at,
    )
    return created(result, f"/groups/{case_id}")


@groups.post("/{case_id}/replace-member", response_model=CommandResult)
async def replace_member(
    case_id: str,
    body: ReplaceBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Replace a member; reviews under way hand the outgoing member's seat to the incoming one."""
    payload = s.ReplaceMember(
        outgoing=body.outgoing,
        incoming=body.incoming,
        leader=body.leader,
        congress_session=body.congress_session,
        reason=body.reason,
    )
    return await _transition(
        ctx,
        actor,
        case_id,
        GROUP_PREFIX,
        "replace_member",
        body,
        payload,
        idempotency_key,
    )


@groups.get("")
async def list_groups(
    ctx: Ctx, actor: CurrentActor, unit: str | None = None, limit: Page = 50, offset: Skip = 0
) -> dict[str, Any]:
    """List the groups in the caller's units."""
    return _list(ctx, actor, unit, {"case_type": "group"}, limit, offset)


@groups.get("/{case_id}")
async def get_group(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return a group with who sat when."""
    no_admin(actor)
    return case_view(_row(ctx, actor, case_id, GROUP_PREFIX, acting=False))


@groups.get("/{case_id}/history")
async def group_history(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return the group's events, oldest first, as recorded."""
    return _history(ctx, actor, case_id, GROUP_PREFIX)


# --- suggestions and management proposals -------------------------------------------------


class Worker(Body):
    """The worker behind a suggestion; encrypted before it leaves this service."""

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,20}$")


class SubmitBody(Body):
    """A suggestion, or a management proposal put to the group."""

    unit: str = Field(min_length=1, max_length=256)
    kind: s.Kind = "suggestion"
    topic: s.Topic
    title: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=4000)
    worker: Worker | None = None
    anonymous: bool = False
    submitted_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _not_both(self) -> SubmitBody:
        if self.anonymous and self.worker is not None:
            raise ValueError("give either the worker or anonymous: true, not both")
        return self


class ReviewBody(Transition):
    meeting: str = Field(min_length=1, max_length=200)


class VoteBody(Transition):
    member: str = UserId
    vote: s.Vote


class ImplementBody(Transition):
    note: str = Text


class ReferBody(Transition):
    owner: str = UserId
    due: date


class ResponseBody(Transition):
    response: str = Text


@suggestions.post("", status_code=201, response_model=CommandResult)
async def submit_suggestion(
    body: SubmitBody, ctx: Ctx, actor: CurrentActor, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Submit a suggestion (for a worker, anonymously, or as a member) or record a proposal."""
    check_unit(ctx, actor, body.unit, "submit suggestions")
    command_id = command_id_for(actor, "suggestions", idempotency_key)
    case_id = new_case_id(SUGGESTION_PREFIX, command_id)
    worker = ctx.sealer.seal_person(body.worker.name, body.worker.phone) if body.worker else None
    kid = worker.person_id if worker else f"CASE-{case_id}"
    payload = s.Submit(
        unit=body.unit,
        kind=body.kind,
        topic=body.topic,
        title=body.title,
        content=ctx.sealer.seal(kid, body.content),
        anonymous=body.anonymous,
        worker=worker,
    )
    result = await submit(
        ctx,
        actor,
        command_type="submit",
        case_id=case_id,
        command_id=command_id,
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.submitted_at,
    )
    return created(result, f"/suggestions/{case_id}")


@suggestions.post("/{case_id}/open-review", response_model=CommandResult)
async def open_review(
    case_id: str,
    body: ReviewBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Open the group's review at a meeting; the members sitting then are the ones who vote."""
    row = _row(ctx, actor, case_id, SUGGESTION_PREFIX, acting=True)
    # The group decides who sat at the meeting and hands the review on to the suggestion.
    payload = s.ConveneReview(
        suggestion_id=case_id,
        meeting=body.meeting,
        expected_version=body.expected_version,
        unit=row["unit"],
    )
    return await submit(
        ctx,
        actor,
        command_type="convene_review",
        case_id=group_id_for(row["unit"]),
        command_id=command_id_for(
            actor,
            f"{CASE_TYPES[SUGGESTION_PREFIX].resource}/{case_id}/open_review",
            idempotency_key,
        ),
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.occurred_at,
        correlation_id=row["correlation_id"],
    )


@suggestions.post("/{case_id}/votes", response_model=CommandResult)
async def cast_vote(
    case_id: str,
    body: VoteBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Cast the signed-in member's own vote: for, against or abstain."""
    payload = s.CastVote(member=body.member, vote=body.vote)
    return await _transition(
        ctx,
        actor,
        case_id,
        SUGGESTION_PREFIX,
        "cast_vote",
        body,
        payload,
        idempotency_key,
    )


@suggestions.post("/{case_id}/close-vote", response_model=CommandResult)
async def close_vote(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: Transition | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Close the vote and count it: adopted, rejected, recommended, vetoed or no quorum."""
    body = body or Transition()
    return await _transition(
        ctx,
        actor,
        case_id,
        SUGGESTION_PREFIX,
        "close_vote",
        body,
        s.CloseVote(),
        idempotency_key,
    )


@suggestions.post("/{case_id}/implement", response_model=CommandResult)
async def implement(
    case_id: str,
    body: ImplementBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record that it was carried out, and what was done."""
    return await _transition(
        ctx,
        actor,
        case_id,
        SUGGESTION_PREFIX,
        "implement",
        body,
        s.Implement(note=body.note),
        idempotency_key,
    )


@suggestions.post("/{case_id}/refer-to-leadership", response_model=CommandResult)
async def refer_to_leadership(
    case_id: str,
    body: ReferBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Refer to the leadership team with a named follow-up owner and due date."""
    return await _transition(
        ctx,
        actor,
        case_id,
        SUGGESTION_PREFIX,
        "refer_to_leadership",
        body,
        s.ReferToLeadership(owner=body.owner, due=body.due),
        idempotency_key,
    )


@suggestions.post("/{case_id}/leadership-response", response_model=CommandResult)
async def leadership_response(
    case_id: str,
    body: ResponseBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record the leadership team's answer."""
    return await _transition(
        ctx,
        actor,
        case_id,
        SUGGESTION_PREFIX,
        "record_leadership_response",
        body,
        s.RecordLeadershipResponse(response=body.response),
        idempotency_key,
    )


def _opened(ctx: ServiceContext, actor: Actor, case_id: str) -> dict[str, Any]:
    """Open the content and the worker for the roles that work with them; others see it sealed."""
    history = ctx.model.history(case_id)
    submitted = history[0]["payload"] if history else {}
    content = Sealed.model_validate(submitted["content"]) if submitted else None
    person = submitted.get("worker")
    view: dict[str, Any] = {
        "content": ctx.sealer.open(content) if content and actor.role in CONTENT_ROLES else SEALED
    }
    if person is None:
        view["worker"] = None
    elif actor.role in WORKER_ROLES:
        phone = person.get("phone")
        view["worker"] = {
            "name": ctx.sealer.open(Sealed.model_validate(person["name"])),
            "phone": ctx.sealer.open(Sealed.model_validate(phone)) if phone else None,
        }
    else:
        view["worker"] = SEALED
    return view


@suggestions.get("")
async def list_suggestions(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    kind: s.Kind | None = None,
    status: SuggestionStatus | None = None,
    topic: s.Topic | None = None,
    outcome: s.Outcome | None = None,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """List suggestions and proposals in the caller's units, newest first, filtered and paged."""
    filters = {
        "case_type": "suggestion",
        "kind": kind,
        "status": status,
        "topic": topic,
        "outcome": outcome,
    }
    return _list(ctx, actor, unit, filters, limit, offset)


@suggestions.get("/{case_id}")
async def get_suggestion(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one suggestion as it stands, with its tally."""
    no_admin(actor)
    row = _row(ctx, actor, case_id, SUGGESTION_PREFIX, acting=False)
    return {**case_view(row), **_opened(ctx, actor, case_id)}


@suggestions.get("/{case_id}/history")
async def suggestion_history(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return the suggestion's events, oldest first, as recorded (personal data sealed)."""
    return _history(ctx, actor, case_id, SUGGESTION_PREFIX)


# --- queries (质询) ------------------------------------------------------------------------


class RaiseBody(Body):
    """A query the group puts to management."""

    unit: str = Field(min_length=1, max_length=256)
    area: s.QueryArea
    question: str = Text
    addressed_to: str = Field(min_length=1, max_length=200)
    raised_at: AwareDatetime | None = None


class AnswerBody(Transition):
    answer: str = Text


class RejectBody(Transition):
    reason: str = Text


@queries.post("", status_code=201, response_model=CommandResult)
async def raise_query(
    body: RaiseBody, ctx: Ctx, actor: CurrentActor, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Raise a query to management."""
    check_unit(ctx, actor, body.unit, "raise queries")
    command_id = command_id_for(actor, "queries", idempotency_key)
    case_id = new_case_id(QUERY_PREFIX, command_id)
    payload = s.RaiseQuery(
        unit=body.unit, area=body.area, question=body.question, addressed_to=body.addressed_to
    )
    result = await submit(
        ctx,
        actor,
        command_type="raise",
        case_id=case_id,
        command_id=command_id,
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.raised_at,
    )
    return created(result, f"/queries/{case_id}")


@queries.post("/{case_id}/answer", response_model=CommandResult)
async def answer_query(
    case_id: str,
    body: AnswerBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record management's answer."""
    return await _transition(
        ctx,
        actor,
        case_id,
        QUERY_PREFIX,
        "answer",
        body,
        s.AnswerQuery(answer=body.answer),
        idempotency_key,
    )


@queries.post("/{case_id}/accept-answer", response_model=CommandResult)
async def accept_answer(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: Transition | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Accept the answer."""
    body = body or Transition()
    return await _transition(
        ctx,
        actor,
        case_id,
        QUERY_PREFIX,
        "accept_answer",
        body,
        s.AcceptAnswer(),
        idempotency_key,
    )


@queries.post("/{case_id}/reject-answer", response_model=CommandResult)
async def reject_answer(
    case_id: str,
    body: RejectBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Reject the answer; management answers again."""
    return await _transition(
        ctx,
        actor,
        case_id,
        QUERY_PREFIX,
        "reject_answer",
        body,
        s.RejectAnswer(reason=body.reason),
        idempotency_key,
    )


@queries.get("")
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
    return _list(ctx, actor, unit, filters, limit, offset)


@queries.get("/{case_id}")
async def get_query(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one query as it stands."""
    no_admin(actor)
    return case_view(_row(ctx, actor, case_id, QUERY_PREFIX, acting=False))


@queries.get("/{case_id}/history")
async def query_history(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return the query's events, oldest first, as recorded."""
    return _history(ctx, actor, case_id, QUERY_PREFIX)
