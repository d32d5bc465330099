"""HTTP routes of help on a case (护薪帮扶): a volunteer sees only what they help with."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from contracts import library as lib
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.common import quarantine
from services.common.auth import HELPERS
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Moment, Transition
from services.common.commands import Opening, Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.problems import Problem
from services.common.queries import Page, Skip, case_view, history_route, listing, row_to_read
from services.common.units import within
from services.library.api import source
from services.library.domain.helps import HELP_PREFIX

router = APIRouter(prefix="/help", tags=["help"])
# A volunteer sees a request while it waits for their answer and while they help.
OPEN_TO_VOLUNTEER = ("requested", "helping")
# Who reads a brief besides the volunteer and the one who asked: those who ask for help.
OPENERS = ("mediator", "union_chair")
SEALED = "[sealed]"


class RequestBody(Body):
    """Ask a volunteer to help on a dispute or a grievance."""

    unit: str = Field(min_length=1, max_length=256)
    source_case_id: str = Field(pattern=r"^(GRV|DSP)-[0-9A-Z]{4,40}$")
    volunteer_case_id: str = Field(pattern=r"^VOL-[0-9A-Z]{4,40}$")
    brief: str = Field(min_length=1, max_length=2000)
    requested_at: Moment | None = None


class DeclineBody(Transition):
    reason: str | None = Field(default=None, max_length=2000)


class RecordBody(Transition):
    hours: float = Field(gt=0, le=24)
    actions: list[lib.HelpAction] = Field(min_length=1, max_length=4)
    note: str | None = Field(default=None, max_length=2000)


class EndBody(Transition):
    note: str | None = Field(default=None, max_length=2000)


def _requested(ctx: ServiceContext, _case_id: str, body: RequestBody) -> lib.RequestHelp:
    """Refuse a volunteer not active on the unit's branch, or a case the library lacks."""
    row = ctx.model.get(body.volunteer_case_id)
    if row is None or row["status"] != "active" or not _related(row["unit"], body.unit):
        raise Problem(
            422, "Unknown volunteer", f"{body.volunteer_case_id} is no active volunteer here"
        )
    found = source(ctx, body.source_case_id)
    if found is None or not within(body.unit, found.unit):
        raise Problem(422, "Unknown case", f"no case {body.source_case_id} in {body.unit}")
    # The brief is about the case's worker: erasing them erases it too.
    key = found.person.person_id if found.person else f"CASE-{body.source_case_id}"
    return lib.RequestHelp(
        unit=body.unit,
        source_case_id=body.source_case_id,
        volunteer=json.loads(row["state"])["user_id"],
        volunteer_case_id=body.volunteer_case_id,
        brief=ctx.sealer.seal(key, body.brief),
    )


def _sealed(ctx: ServiceContext, row: Any, text: str | None) -> Sealed | None:
    """Seal a note on the help under the brief's key: both speak of the case's worker."""
    if not text:
        return None
    return ctx.sealer.seal(json.loads(row["state"])["brief"]["kid"], text)


def _related(a: str, b: str) -> bool:
    return within(a, b) or within(b, a)


command_routes(
    router,
    opening=Opening(
        name="request_help",
        description="Ask a registered volunteer to help on a dispute (mediator) or a grievance"
        " (rep).",
        command="request",
        body=RequestBody,
        prefix=HELP_PREFIX,
        payload=_requested,
        what="ask volunteers for help",
        occurred_at="requested_at",
    ),
    verbs=[
        Verb(
            "accept",
            "accept",
            "The volunteer accepts.",
            Transition,
            lambda _ctx, _row, _b: lib.Accept(),
            optional=True,
            helpers=True,
        ),
        Verb(
            "decline",
            "decline",
            "The volunteer declines.",
            DeclineBody,
            lambda ctx, row, b: lib.Decline(reason=_sealed(ctx, row, b.reason)),
            optional=True,
            helpers=True,
        ),
        Verb(
            "record",
            "record",
            "The volunteer records what they did: hours and actions.",
            RecordBody,
            lambda ctx, row, b: lib.RecordHelp(
                hours=b.hours, actions=tuple(b.actions), note=_sealed(ctx, row, b.note)
            ),
            helpers=True,
        ),
        Verb(
            "end",
            "end",
            "End the help.",
            EndBody,
            lambda ctx, row, b: lib.EndHelp(note=_sealed(ctx, row, b.note)),
            optional=True,
            helpers=True,
            name="end_help",
        ),
    ],
    prefix=HELP_PREFIX,
)


def help_view(ctx: ServiceContext, actor: Actor, row: Any) -> dict[str, Any]:
    """A help request with its brief opened for those who work on it, sealed for the rest."""
    view = case_view(row)
    brief = Sealed.model_validate(view["brief"])
    working = actor.role in (*HELPERS, *OPENERS) or actor.user_id == view["requester"]
    view["brief"] = ctx.sealer.open(brief) if working else SEALED
    return view


def _volunteer_rows(ctx: ServiceContext, actor: Actor, limit: int, offset: int) -> dict[str, Any]:
    """The requests a volunteer may see: theirs, while they wait or help."""
    marks = ", ".join("?" for _ in OPEN_TO_VOLUNTEER)
    where = (
        f"case_id LIKE 'HLP-%' AND json_extract(state, '$.volunteer') = ? AND status IN ({marks})"
    )
    args = [actor.user_id, *OPEN_TO_VOLUNTEER]
    total = ctx.model.select(f"SELECT COUNT(*) FROM cases WHERE {where}", args)[0][0]
    rows = ctx.model.select(
        f"SELECT *, {quarantine.COLUMN} FROM cases WHERE {where}"
        " ORDER BY opened_at DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [help_view(ctx, actor, r) for r in rows],
    }


@router.get("")
async def list_help(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    source_case_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """Help requests: a volunteer's own open ones, or those of the caller's units."""
    if actor.role in HELPERS:
        return _volunteer_rows(ctx, actor, limit, offset)
    filters = {"case_type": "help", "source_case_id": source_case_id}
    view = partial(help_view, ctx, actor)
    return listing(ctx, actor, unit, filters, limit, offset, view=view)


@router.get("/{case_id}")
async def get_help(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one help request; to a volunteer only their own, and only while it is open."""
    if actor.role in HELPERS:
        row = ctx.model.get(case_id) if case_id.startswith(f"{HELP_PREFIX}-") else None
        state = json.loads(row["state"]) if row is not None else {}
        if state.get("volunteer") != actor.user_id or state["status"] not in OPEN_TO_VOLUNTEER:
            raise Problem(404, "Not found", f"no help request {case_id} for you")
        return help_view(ctx, actor, row)
    return help_view(ctx, actor, row_to_read(ctx, actor, case_id, prefix=HELP_PREFIX))


history_route(
    router,
    "help_history",
    "Return the help request's events as recorded; `opened` gives a note or reason as text.",
    prefix=HELP_PREFIX,
    texts=("note", "reason"),
)
