"""HTTP routes of follow-up: its commands as a table, and views of the projection."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from contracts import followup as f
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.common.asof import AsOf, instant, report, report_states
from services.common.bearer import CurrentActor
from services.common.bodies import Day, Transition
from services.common.commands import Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.queries import (
    Page,
    Skip,
    case_view,
    history_route,
    listing,
    period,
    report_unit,
    row_to_read,
)
from services.common.views import PERSONAL_ROLES, SEALED
from services.followup.domain import Followup, Status, statistics

router = APIRouter(prefix="/followups", tags=["followups"])
stats_router = APIRouter(tags=["statistics"])
PERSONAL_DATA_ROLES = PERSONAL_ROLES["followup"]


class ProgressBody(Transition):
    note: str = Field(min_length=1, max_length=2000)


class ContactBody(Transition):
    satisfaction: f.Satisfaction
    comment: str | None = Field(default=None, max_length=2000)


class CompleteBody(Transition):
    note: str | None = Field(default=None, max_length=2000)
    agreement: f.AgreementFinding | None = None
    breach_reason: str | None = Field(default=None, min_length=1, max_length=2000)


def _person_key(ctx: ServiceContext, source_case_id: str) -> str:
    """Seal a worker's words under their own key when the source case names them."""
    rows = ctx.model.select(
        "SELECT person_id FROM source_people WHERE case_id = ?", (source_case_id,)
    )
    return str(rows[0][0]) if rows else f"CASE-{source_case_id}"


def _seal(ctx: ServiceContext, row: Any, text: str) -> Sealed:
    """Seal an owner's note under the key of the worker the followed case is about."""
    return ctx.sealer.seal(_person_key(ctx, json.loads(row["state"])["source_case_id"]), text)


def _contact(ctx: ServiceContext, row: Any, body: ContactBody) -> f.Contact:
    """Seal the worker's comment under the key of the case the follow-up came from."""
    source = json.loads(row["state"])["source_case_id"]
    comment = ctx.sealer.seal(_person_key(ctx, source), body.comment) if body.comment else None
    return f.Contact(satisfaction=body.satisfaction, comment=comment)


command_routes(
    router,
    verbs=[
        Verb(
            "progress",
            "note_progress",
            "Note how the followed matter stands.",
            ProgressBody,
            lambda ctx, row, b: f.NoteProgress(note=_seal(ctx, row, b.note)),
        ),
        Verb(
            "contact",
            "contact",
            "Record the call-back: how satisfied the worker is, and their words (encrypted).",
            ContactBody,
            _contact,
        ),
        Verb(
            "complete",
            "complete",
            "Complete the follow-up; a performance check says whether the agreement was kept.",
            CompleteBody,
            lambda ctx, row, b: f.Complete(
                note=_seal(ctx, row, b.note) if b.note else None,
                agreement=b.agreement,
                breach_reason=_seal(ctx, row, b.breach_reason) if b.breach_reason else None,
            ),
            optional=True,
        ),
    ],
)


# --- queries ----------------------------------------------------------------


def _comment(ctx: ServiceContext, actor: Actor, case_id: str) -> str | None:
    sealed = next(
        (
            e["payload"].get("comment")
            for e in ctx.model.history(case_id)
            if e["event_type"] == "followup.contacted"
        ),
        None,
    )
    if sealed is None:
        return None
    if actor.role not in PERSONAL_DATA_ROLES:
        return SEALED
    return ctx.sealer.open(Sealed.model_validate(sealed))


@router.get("")
async def list_followups(
    ctx: Ctx,
    actor: CurrentActor,
    owner: str | None = None,
    overdue: bool | None = None,
    unit: str | None = None,
    status: Status | None = None,
    kind: f.FollowupKind | None = None,
    source_case_id: str | None = None,
    due_before: Day | None = None,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """List follow-ups in the caller's units, soonest due first: an owner's queue."""
    filters = {
        "owner": owner,
        "overdue": overdue,
        "status": status,
        "kind": kind,
        "source_case_id": source_case_id,
    }
    return listing(
        ctx,
        actor,
        unit,
        filters,
        limit,
        offset,
        at_most={"due": due_before.isoformat() if due_before else None},
        order_by="due",
    )


@router.get("/{case_id}")
async def get_followup(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one follow-up as it stands."""
    row = row_to_read(ctx, actor, case_id)
    return {**case_view(row), "comment": _comment(ctx, actor, case_id)}


history_route(
    router,
    "followup_history",
    "Return the follow-up's events, oldest first, exactly as recorded (personal data sealed);"
    " `opened` gives an event's note or breach reason as text.",
    texts=("note", "breach_reason"),
)


@stats_router.get("/stats")
async def followup_stats(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    from_: Annotated[Day | None, Query(alias="from")] = None,
    to: Day | None = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Closure, on-time and satisfaction rates of a unit's follow-ups scheduled in a period."""
    unit = report_unit(ctx, actor, unit, known=True)
    filters = period(from_, to)

    def count() -> dict[str, object]:
        cases: list[Followup] = report_states(ctx.model, unit, filters, as_of)
        return statistics(cases)

    figures = report(ctx.model, (unit, from_, to, as_of), count)
    return {"unit": unit, "from": from_, "to": to, "as_of": instant(as_of), **figures}
