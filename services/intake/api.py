"""HTTP routes of grievance intake: thin views that build commands and read the projection."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field, model_validator

from contracts import grievance as g
from contracts.envelope import Actor
from contracts.personal import Sealed
from contracts.scope import DisputeCategory
from services.common.auth import can_see
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
    period,
    sealing_key,
    submit,
    transition,
)
from services.common.ids import command_id_for, new_case_id
from services.intake.domain import Grievance, Status, statistics

router = APIRouter(prefix="/grievances", tags=["grievances"])
stats_router = APIRouter(tags=["statistics"])
PERSONAL_DATA_ROLES = ("worker_rep", "union_chair", "followup_officer")
SEALED = "[sealed]"


class Complainant(Body):
    """The worker who complains; encrypted before it leaves this service."""

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,20}$")


class LogBody(Body):
    """A new grievance as a rep logs it."""

    unit: str = Field(min_length=1, max_length=256)
    category: g.Category
    summary: str = Field(min_length=1, max_length=200)
    details: str | None = Field(default=None, max_length=4000)
    channel: g.Channel
    complainant: Complainant | None = None
    anonymous: bool = False
    received_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_of(self) -> LogBody:
        if self.anonymous == (self.complainant is not None):
            raise ValueError("give either a complainant or anonymous: true, not both or neither")
        return self


class ResolveBody(Transition):
    how: g.ResolvedHow
    resolution: str = Field(min_length=1, max_length=2000)


class EscalateBody(Transition):
    owner: str = Field(min_length=1, max_length=128)
    due: date


class DecisionBody(Transition):
    decision: str = Field(min_length=1, max_length=2000)


class ReferBody(Transition):
    dispute_category: DisputeCategory


class FeedbackBody(Transition):
    note: str = Field(min_length=1, max_length=2000)


class ReasonBody(Transition):
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawBody(Transition):
    reason: str | None = Field(default=None, max_length=2000)


@router.post("", status_code=201, response_model=CommandResult)
async def log_grievance(
    body: LogBody, ctx: Ctx, actor: CurrentActor, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Log a worker's grievance."""
    check_unit(ctx, actor, body.unit, "log grievances")
    command_id = command_id_for(actor, "grievances", idempotency_key)
    case_id = new_case_id("GRV", command_id)
    complainant = None
    details_kid = f"CASE-{case_id}"
    if body.complainant is not None:
        complainant = ctx.sealer.seal_person(body.complainant.name, body.complainant.phone)
        details_kid = complainant.person_id
    levels = ctx.units.service_levels(body.unit)
    payload = g.LogGrievance(
        unit=body.unit,
        category=body.category,
        summary=body.summary,
        details=ctx.sealer.seal(details_kid, body.details) if body.details else None,
        channel=body.channel,
        anonymous=body.anonymous,
        complainant=complainant,
        ack_working_days=levels.ack_working_days,
        answer_working_days=levels.answer_working_days,
    )
    result = await submit(
        ctx,
        actor,
        command_type="log",
        case_id=case_id,
        command_id=command_id,
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.received_at,
    )
    return created(result, f"/grievances/{case_id}")


@router.post("/{case_id}/acknowledge", response_model=CommandResult)
async def acknowledge(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: Transition | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Acknowledge receipt to the worker."""
    body = body or Transition()
    return await transition(
        ctx, actor, case_id, "acknowledge", body, g.Acknowledge(), idempotency_key
    )


@router.post("/{case_id}/resolve", response_model=CommandResult)
async def resolve(
    case_id: str,
    body: ResolveBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record how the matter was resolved."""
    payload = g.Resolve(how=body.how, resolution=body.resolution)
    return await transition(ctx, actor, case_id, "resolve", body, payload, idempotency_key)


@router.post("/{case_id}/escalate", response_model=CommandResult)
async def escalate(
    case_id: str,
    body: EscalateBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Escalate to the leadership team with a named follow-up owner and due date."""
    payload = g.Escalate(owner=body.owner, due=body.due)
    return await transition(ctx, actor, case_id, "escalate", body, payload, idempotency_key)


@router.post("/{case_id}/decision", response_model=CommandResult)
async def decision(
    case_id: str,
    body: DecisionBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record the leadership team's decision."""
    payload = g.RecordDecision(decision=body.decision)
    return await transition(ctx, actor, case_id, "record_decision", body, payload, idempotency_key)


@router.post("/{case_id}/refer-to-mediation", response_model=CommandResult)
async def refer_to_mediation(
    case_id: str,
    body: ReferBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Refer the grievance to labour-dispute mediation."""
    payload = g.ReferToMediation(dispute_category=body.dispute_category)
    return await transition(
        ctx, actor, case_id, "refer_to_mediation", body, payload, idempotency_key
    )


@router.post("/{case_id}/feedback", response_model=CommandResult)
async def feedback(
    case_id: str,
    body: FeedbackBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record feedback given to the worker (the note is encrypted)."""
    case_row_for(ctx, actor, case_id, acting=True)
    payload = g.GiveFeedback(note=ctx.sealer.seal(sealing_key(ctx, case_id), body.note))
    return await transition(ctx, actor, case_id, "give_feedback", body, payload, idempotency_key)


@router.post("/{case_id}/close", response_model=CommandResult)
async def close(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: Transition | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Close a resolved grievance."""
    body = body or Transition()
    return await transition(ctx, actor, case_id, "close", body, g.Close(), idempotency_key)


@router.post("/{case_id}/reopen", response_model=CommandResult)
async def reopen(
    case_id: str,
    body: ReasonBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Send the grievance back to work."""
    payload = g.Reopen(reason=body.reason)
    return await transition(ctx, actor, case_id, "reopen", body, payload, idempotency_key)


@router.post("/{case_id}/withdraw", response_model=CommandResult)
async def withdraw(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: WithdrawBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Withdraw the grievance at the worker's request."""
    body = body or WithdrawBody()
    payload = g.Withdraw(reason=body.reason)
    return await transition(ctx, actor, case_id, "withdraw", body, payload, idempotency_key)


# --- queries ----------------------------------------------------------------


def _personal(ctx: ServiceContext, actor: Actor, case_id: str) -> dict[str, Any]:
    history = ctx.model.history(case_id)
    logged = history[0]["payload"] if history else {}
    if actor.role not in PERSONAL_DATA_ROLES:
        has = logged.get("complainant") is not None
        return {
            "complainant": SEALED if has else None,
            "details": SEALED if logged.get("details") else None,
        }
    person = logged.get("complainant")
    details = logged.get("details")
    return {
        "complainant": {
            "name": ctx.sealer.open(Sealed.model_validate(person["name"])),
            "phone": ctx.sealer.open(Sealed.model_validate(person["phone"]))
            if person.get("phone")
            else None,
        }
        if person
        else None,
        "details": ctx.sealer.open(Sealed.model_validate(details)) if details else None,
    }


@router.get("")
async def list_grievances(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    status: Status | None = None,
    category: g.Category | None = None,
    overdue: bool | None = None,
    opened_from: date | None = None,
    opened_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """List grievances in the caller's units, newest first, filtered and paged."""
    no_admin(actor)
    scope = list_scope(actor, unit)
    total, rows = ctx.model.query(
        units=scope,
        filters={
            "status": status,
            "category": category,
            **period(opened_from, opened_to),
            "overdue": overdue,
        },
        limit=limit,
        offset=offset,
    )
    items = [case_view(r) for r in rows]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/{case_id}")
async def get_grievance(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one grievance as it stands."""
    no_admin(actor)
    row = case_row_for(ctx, actor, case_id, acting=False)
    return {**case_view(row), **_personal(ctx, actor, case_id)}


@router.get("/{case_id}/history")
async def grievance_history(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return the grievance's events, oldest first, exactly as recorded (personal data sealed)."""
    no_admin(actor)
    case_row_for(ctx, actor, case_id, acting=False)
    return {"case_id": case_id, "events": ctx.model.history(case_id)}


@stats_router.get("/stats")
async def grievance_stats(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> dict[str, Any]:
    """Count a unit's grievances opened in a period, by status and category, with punctuality."""
    no_admin(actor)
    unit = unit or actor.unit
    if not can_see(actor, unit):
        raise Problem(404, "Not found", f"unit {unit} is not among your units")
    cases: list[Grievance] = ctx.model.states(units=[unit], filters=period(from_, to))
    return {"unit": unit, "from": from_, "to": to, **statistics(cases)}
