"""HTTP routes of suggestions (合理化建议) and management proposals: submitted, reviewed, voted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from contracts import suggestion as s
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.common.bearer import CurrentActor
from services.common.bodies import Body, CommandResult, Day, Imported, Moment, Transition
from services.common.commands import (
    IdempotencyKey,
    Opening,
    Verb,
    command_routes,
    submit,
)
from services.common.context import Ctx, ServiceContext
from services.common.ids import keyed
from services.common.openapi import responses
from services.common.queries import (
    Page,
    Skip,
    case_row_for,
    case_view,
    history_route,
    listing,
    revealed,
    row_to_read,
    sealing_key,
)
from services.common.views import PERSONAL_ROLES, SEALED, SUGGESTION_CONTENT_ROLES
from services.suggestions.api import Text, UserId
from services.suggestions.api.groups import group_id_for
from services.suggestions.domain import SUGGESTION_PREFIX, SuggestionStatus

router = APIRouter(prefix="/suggestions", tags=["suggestions"])
CONTENT_ROLES = SUGGESTION_CONTENT_ROLES
WORKER_ROLES = PERSONAL_ROLES["suggestion"]
# The free text a suggestion's state holds sealed, shown to whoever may read the suggestion.
TEXTS = ("title", "implementation", "leadership_response")


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
    submitted_at: Moment | None = None
    imported: Imported | None = None

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
    due: Day


class ResponseBody(Transition):
    response: str = Text


def _submitted(ctx: ServiceContext, case_id: str, body: SubmitBody) -> s.Submit:
    """Seal the title and content under the worker's key, or the case's own without a worker."""
    worker = ctx.sealer.seal_person(body.worker.name, body.worker.phone) if body.worker else None
    kid = worker.person_id if worker else f"CASE-{case_id}"
    return s.Submit(
        unit=body.unit,
        kind=body.kind,
        topic=body.topic,
        title=ctx.sealer.seal(kid, body.title),
        content=ctx.sealer.seal(kid, body.content),
        anonymous=body.anonymous,
        worker=worker,
    )


command_routes(
    router,
    opening=Opening(
        name="submit_suggestion",
        description="Submit a suggestion (for a worker, anonymously, or as a member) or record a"
        " proposal.",
        command="submit",
        body=SubmitBody,
        prefix=SUGGESTION_PREFIX,
        payload=_submitted,
        what="submit suggestions",
        occurred_at="submitted_at",
    ),
    verbs=[
        Verb(
            "votes",
            "cast_vote",
            "Cast the signed-in member's own vote: for, against or abstain.",
            VoteBody,
            lambda _ctx, _row, b: s.CastVote(member=b.member, vote=b.vote),
            name="cast_vote",
        ),
        Verb(
            "close-vote",
            "close_vote",
            "Close the vote and count it: adopted, rejected, recommended, vetoed or no quorum.",
            Transition,
            lambda _ctx, _row, _b: s.CloseVote(),
            optional=True,
        ),
        Verb(
            "implement",
            "implement",
            "Record that it was carried out, and what was done.",
            ImplementBody,
            lambda ctx, row, b: s.Implement(note=ctx.sealer.seal(sealing_key(row), b.note)),
        ),
        Verb(
            "refer-to-leadership",
            "refer_to_leadership",
            "Refer to the leadership team with a named follow-up owner and due date.",
            ReferBody,
            lambda _ctx, _row, b: s.ReferToLeadership(owner=b.owner, due=b.due),
        ),
        Verb(
            "leadership-response",
            "record_leadership_response",
            "Record the leadership team's answer.",
            ResponseBody,
            lambda ctx, row, b: s.RecordLeadershipResponse(
                response=ctx.sealer.seal(sealing_key(row), b.response)
            ),
        ),
    ],
    prefix=SUGGESTION_PREFIX,
)


@router.post("/{case_id}/open-review", response_model=CommandResult, responses=responses(200))
async def open_review(
    case_id: str,
    body: ReviewBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Open the group's review at a meeting; the members sitting then are the ones who vote."""
    row = case_row_for(ctx, actor, case_id, acting=True, prefix=SUGGESTION_PREFIX)
    # The group knows who sits at the meeting, so the group convenes the review; the version
    # the caller expects is the suggestion's, checked where the review is opened.
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
        key=keyed(actor, f"suggestions/{case_id}/open_review", idempotency_key),
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.occurred_at,
        correlation_id=row["correlation_id"],
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


def _view(ctx: ServiceContext, row: Any) -> dict[str, Any]:
    """A suggestion as its readers see it: the title and what came of it opened."""
    return revealed(ctx.sealer, case_view(row), TEXTS)


@router.get("")
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
    return listing(ctx, actor, unit, filters, limit, offset, view=lambda row: _view(ctx, row))


@router.get("/{case_id}")
async def get_suggestion(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one suggestion as it stands, with its tally."""
    row = row_to_read(ctx, actor, case_id, prefix=SUGGESTION_PREFIX)
    return {**_view(ctx, row), **_opened(ctx, actor, case_id)}


history_route(
    router,
    "suggestion_history",
    "Return the suggestion's events, oldest first, as recorded (personal data sealed);"
    " `opened` gives a title, note or response as text.",
    prefix=SUGGESTION_PREFIX,
    texts=("title", "note", "response"),
)
