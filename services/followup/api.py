"""HTTP routes of follow-up: thin views that build commands and read the projection."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from contracts import followup as f
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.common.auth import can_see
from services.common.http import (
    CommandResult,
    Ctx,
    CurrentActor,
    IdempotencyKey,
    Problem,
    ServiceContext,
    Transition,
    case_row_for,
    case_view,
    list_scope,
    no_admin,
    period,
    transition,
)
from services.followup.domain import Followup, Status, statistics

router = APIRouter(prefix="/followups", tags=["followups"])
stats_router = APIRouter(tags=["statistics"])
PERSONAL_DATA_ROLES = ("followup_officer", "union_chair", "worker_rep")
SEALED = "[sealed]"


class ProgressBody(Transition):
    note: str = Field(min_length=1, max_length=2000)


class ContactBody(Transition):
    satisfaction: f.Satisfaction
    comment: str | None = Field(default=None, max_length=2000)


class CompleteBody(Transition):
    note: str | None = Field(default=None, max_length=2000)
    agreement: f.AgreementFinding | None = None
    breach_reason: str | None = Field(default=None, min_length=1, max_length=2000)


@router.post("/{case_id}/progress", response_model=CommandResult)
async def progress(
    case_id: str,
    body: ProgressBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Note how the followed matter stands."""
    payload = f.NoteProgress(note=body.note)
    return await transition(ctx, actor, case_id, "note_progress", body, payload, idempotency_key)


@router.post("/{case_id}/contact", response_model=CommandResult)
async def contact(
    case_id: str,
    body: ContactBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record the call-back: how satisfied the worker is, and their words (encrypted)."""
    row = case_row_for(ctx, actor, case_id, acting=True)
    source = json.loads(row["state"])["source_case_id"]
    comment = ctx.sealer.seal(_person_key(ctx, source), body.comment) if body.comment else None
    payload = f.Contact(satisfaction=body.satisfaction, comment=comment)
    return await transition(ctx, actor, case_id, "contact", body, payload, idempotency_key)


@router.post("/{case_id}/complete", response_model=CommandResult)
async def complete(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: CompleteBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Complete the follow-up; a performance check says whether the agreement was kept."""
    body = body or CompleteBody()
    payload = f.Complete(note=body.note, agreement=body.agreement, breach_reason=body.breach_reason)
    return await transition(ctx, actor, case_id, "complete", body, payload, idempotency_key)


def _person_key(ctx: ServiceContext, source_case_id: str) -> str:
    """Seal a worker's words under their own key when the source case names them."""
    rows = ctx.model.select(
        "SELECT person_id FROM source_people WHERE case_id = ?", (source_case_id,)
    )
    return str(rows[0][0]) if rows else f"CASE-{source_case_id}"


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
    due_before: date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """List follow-ups in the caller's units, soonest due first: an owner's queue."""
    no_admin(actor)
    scope = list_scope(actor, unit)
    total, rows = ctx.model.query(
        units=scope,
        filters={
            "owner": owner,
            "overdue": overdue,
            "status": status,
            "kind": kind,
            "source_case_id": source_case_id,
        },
        at_most={"due": due_before.isoformat() if due_before else None},
        order_by="due",
        limit=limit,
        offset=offset,
    )
    items = [case_view(r) for r in rows]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/{case_id}")
async def get_followup(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one follow-up as it stands."""
    no_admin(actor)
    row = case_row_for(ctx, actor, case_id, acting=False)
    return {**case_view(row), "comment": _comment(ctx, actor, case_id)}


@router.get("/{case_id}/history")
async def followup_history(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return the follow-up's events, oldest first, exactly as recorded (personal data sealed)."""
    no_admin(actor)
    case_row_for(ctx, actor, case_id, acting=False)
    return {"case_id": case_id, "events": ctx.model.history(case_id)}


@stats_router.get("/stats")
async def followup_stats(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> dict[str, Any]:
    """Closure, on-time and satisfaction rates of a unit's follow-ups scheduled in a period."""
    no_admin(actor)
    unit = unit or actor.unit
    if ctx.units.get(unit) is None:
        raise Problem(422, "Unknown unit", f"there is no unit {unit!r}")
    if not can_see(actor, unit):
        raise Problem(404, "Not found", f"unit {unit} is not among your units")
    if from_ and to and to < from_:
        raise Problem(422, "Invalid period", f"to ({to}) is before from ({from_})")
    cases: list[Followup] = ctx.model.states(units=[unit], filters=period(from_, to))
    return {"unit": unit, "from": from_, "to": to, **statistics(cases)}
