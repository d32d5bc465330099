"""HTTP routes of dispute mediation: thin views that build commands and read the projection."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from contracts import dispute as d
from contracts.envelope import Actor, now_utc
from contracts.personal import Sealed
from contracts.scope import DisputeCategory
from services.common.auth import can_see
from services.common.calendar import local_date
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
    check_unit,
    created,
    list_scope,
    no_admin,
    sealing_key,
    submit,
    transition,
)
from services.common.ids import command_id_for, new_case_id
from services.mediation.domain import CASE_PREFIX, Status

router = APIRouter(prefix="/disputes", tags=["disputes"])
SEALED = "[sealed]"
# Yuan with at most two decimals; the ceiling matches the contracts' bound in fen.
Yuan = Annotated[Decimal, Field(ge=0, le=Decimal(d.MAX_FEN) / 100, decimal_places=2)]
PositiveYuan = Annotated[Decimal, Field(gt=0, le=Decimal(d.MAX_FEN) / 100, decimal_places=2)]
EXISTENCE_FIELDS = (
    "case_id",
    "unit",
    "status",
    "version",
    "opened_at",
    "updated_at",
    "acceptance_due",
    "deadline",
)


def fen(amount: Decimal) -> int:
    """Convert yuan to fen."""
    return int(amount * 100)


class Applicant(Body):
    """The worker who applies; encrypted before it leaves this service."""

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,20}$")


class ClaimBody(Body):
    """One claim; `amount` in yuan for money claims."""

    description: str = Field(min_length=1, max_length=500)
    amount: PositiveYuan | None = None


class RespondentBody(Body):
    """The employer and the user ids of its management."""

    employer: str = Field(min_length=1, max_length=200)
    management: list[str] = Field(default_factory=list, max_length=50)


class ApplyBody(Body):
    """An application for mediation, written or taken down orally on the spot."""

    unit: str = Field(min_length=1, max_length=256)
    form: Literal["written", "oral"]
    applicant: Applicant
    respondent: RespondentBody
    category: DisputeCategory
    matters: str = Field(min_length=1, max_length=4000)
    reasons: str | None = Field(default=None, max_length=4000)
    claims: list[ClaimBody] = Field(min_length=1, max_length=50)
    known_since: date
    oral_recorded_at: AwareDatetime | None = None
    received_at: AwareDatetime | None = None
    accept_on_receipt: bool = False


class AcceptBody(Transition):
    known_since: date | None = None


class DeclineBody(Transition):
    code: d.DeclineCode
    reason: str = Field(min_length=1, max_length=2000)


class AssignBody(Transition):
    mediator: str = Field(min_length=1, max_length=128)
    relation: d.Relation = "none"


class SessionBody(Transition):
    held_on: date
    attendees: list[str] = Field(min_length=1, max_length=30)
    minutes: str = Field(min_length=1, max_length=8000)


class ExtendBody(Transition):
    days: int = Field(ge=1, le=366)
    consent: list[d.Party] = Field(default_factory=list, max_length=2)


class AgreementBody(Transition):
    terms: str = Field(min_length=1, max_length=4000)
    amount: Yuan
    perform_by: date
    signed_by: list[d.Signatory] = Field(default_factory=list, max_length=3)


class ReasonBody(Transition):
    reason: str = Field(min_length=1, max_length=2000)


class ArbitrationBody(Transition):
    commission: str | None = Field(default=None, max_length=200)


@router.post("", status_code=201, response_model=CommandResult)
async def apply(
    body: ApplyBody, ctx: Ctx, actor: CurrentActor, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Record an application for mediation."""
    check_unit(ctx, actor, body.unit, "record disputes")
    command_id = command_id_for(actor, "disputes", idempotency_key)
    case_id = new_case_id(CASE_PREFIX, command_id)
    applicant = ctx.sealer.seal_person(body.applicant.name, body.applicant.phone)
    kid = applicant.person_id
    payload = d.Apply(
        unit=body.unit,
        form=body.form,
        applicant=applicant,
        respondent=d.Respondent(
            employer=body.respondent.employer, management=tuple(body.respondent.management)
        ),
        category=body.category,
        matters=ctx.sealer.seal(kid, body.matters),
        reasons=ctx.sealer.seal(kid, body.reasons) if body.reasons else None,
        oral_recorded_at=body.oral_recorded_at,
        claims=tuple(
            d.Claim(
                description=c.description,
                amount_fen=fen(c.amount) if c.amount is not None else None,
            )
            for c in body.claims
        ),
        known_since=body.known_since,
        accept_on_receipt=body.accept_on_receipt,
    )
    result = await submit(
        ctx,
        actor,
        command_type="apply",
        case_id=case_id,
        command_id=command_id,
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.received_at,
    )
    return created(result, f"/disputes/{case_id}")


@router.post("/{case_id}/accept", response_model=CommandResult)
async def accept(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: AcceptBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Accept the application: the 15-day mediation period starts."""
    body = body or AcceptBody()
    payload = d.Accept(known_since=body.known_since)
    return await transition(ctx, actor, case_id, "accept", body, payload, idempotency_key)


@router.post("/{case_id}/decline", response_model=CommandResult)
async def decline(
    case_id: str,
    body: DeclineBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Decline the application, with a reason the worker can read."""
    payload = d.Decline(code=body.code, reason=body.reason)
    return await transition(ctx, actor, case_id, "decline", body, payload, idempotency_key)


@router.post("/{case_id}/assign", response_model=CommandResult)
async def assign(
    case_id: str,
    body: AssignBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Assign the mediator."""
    payload = d.AssignMediator(mediator=body.mediator, relation=body.relation)
    return await transition(ctx, actor, case_id, "assign", body, payload, idempotency_key)


@router.post("/{case_id}/sessions", response_model=CommandResult)
async def record_session(
    case_id: str,
    body: SessionBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record a mediation session (the minutes are encrypted)."""
    case_row_for(ctx, actor, case_id, acting=True)
    payload = d.RecordSession(
        held_on=body.held_on,
        attendees=tuple(body.attendees),
        minutes=ctx.sealer.seal(sealing_key(ctx, case_id), body.minutes),
    )
    return await transition(ctx, actor, case_id, "record_session", body, payload, idempotency_key)


@router.post("/{case_id}/extend", response_model=CommandResult)
async def extend(
    case_id: str,
    body: ExtendBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Extend the mediation period once, with both parties' consent."""
    payload = d.Extend(days=body.days, consent=tuple(body.consent))
    return await transition(ctx, actor, case_id, "extend", body, payload, idempotency_key)


@router.post("/{case_id}/agreement", response_model=CommandResult)
async def agreement(
    case_id: str,
    body: AgreementBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record the mediation agreement signed by both parties and the mediator."""
    payload = d.RecordAgreement(
        terms=body.terms,
        amount_fen=fen(body.amount),
        perform_by=body.perform_by,
        signed_by=tuple(body.signed_by),
    )
    return await transition(ctx, actor, case_id, "record_agreement", body, payload, idempotency_key)


@router.post("/{case_id}/performed", response_model=CommandResult)
async def performed(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: Transition | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record that the agreement was carried out."""
    body = body or Transition()
    payload = d.RecordPerformance()
    return await transition(
        ctx, actor, case_id, "record_performance", body, payload, idempotency_key
    )


@router.post("/{case_id}/breached", response_model=CommandResult)
async def breached(
    case_id: str,
    body: ReasonBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record that the agreement was not carried out."""
    payload = d.RecordBreach(reason=body.reason)
    return await transition(ctx, actor, case_id, "record_breach", body, payload, idempotency_key)


@router.post("/{case_id}/fail", response_model=CommandResult)
async def fail(
    case_id: str,
    body: ReasonBody,
    ctx: Ctx,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """End the mediation without agreement."""
    payload = d.Fail(reason=body.reason)
    return await transition(ctx, actor, case_id, "fail", body, payload, idempotency_key)


@router.post("/{case_id}/refer-to-arbitration", response_model=CommandResult)
async def refer_to_arbitration(
    case_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    body: ArbitrationBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record that the dispute went to the arbitration commission."""
    body = body or ArbitrationBody()
    payload = d.ReferToArbitration(commission=body.commission)
    return await transition(
        ctx, actor, case_id, "refer_to_arbitration", body, payload, idempotency_key
    )


# --- queries ----------------------------------------------------------------


def _confidant(actor: Actor, row: Any, state: dict[str, Any]) -> bool:
    """Whether the caller may see the dispute's content: mediation is confidential."""
    if actor.role == "auditor":
        return True
    if actor.role == "union_chair" and can_see(actor, row["unit"]):
        return True
    return actor.role == "mediator" and state.get("mediator") == actor.user_id


def _opens_personal_data(actor: Actor) -> bool:
    return actor.role in ("union_chair", "mediator")


def _days_left(deadline: str | None) -> int | None:
    if deadline is None:
        return None
    return (date.fromisoformat(deadline) - local_date(now_utc())).days


def _view(actor: Actor, row: Any) -> dict[str, Any]:
    """Render a dispute: its content for those it is confided to, its existence for the rest."""
    state = json.loads(row["state"])
    full = {
        "case_id": row["case_id"],
        "version": row["version"],
        **state,
        "updated_at": row["updated_at"],
        "correlation_id": row["correlation_id"],
        "days_left": _days_left(state.get("deadline")),
    }
    if _confidant(actor, row, state):
        return {**full, "confidential": False}
    return {
        **{k: full[k] for k in EXISTENCE_FIELDS},
        "days_left": full["days_left"],
        "confidential": True,
    }


def _personal(ctx: ServiceContext, actor: Actor, case_id: str) -> dict[str, Any]:
    history = ctx.model.history(case_id)
    applied = history[0]["payload"] if history else {}
    minutes = [
        e["payload"]["minutes"] for e in history if e["event_type"] == "dispute.session_held"
    ]
    if not _opens_personal_data(actor):
        return {
            "applicant": SEALED if applied.get("applicant") else None,
            "matters": SEALED if applied.get("matters") else None,
            "reasons": SEALED if applied.get("reasons") else None,
            "minutes": [SEALED for _ in minutes],
        }
    person = applied.get("applicant")

    def opened(value: Any) -> str | None:
        return ctx.sealer.open(Sealed.model_validate(value)) if value else None

    return {
        "applicant": {"name": opened(person["name"]), "phone": opened(person.get("phone"))}
        if person
        else None,
        "matters": opened(applied.get("matters")),
        "reasons": opened(applied.get("reasons")),
        "minutes": [opened(m) for m in minutes],
    }


@router.get("")
async def list_disputes(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    status: Status | None = None,
    category: DisputeCategory | None = None,
    mediator: str | None = None,
    deadline_before: date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """List disputes in the caller's units; with `deadline_before`, a queue by days left."""
    no_admin(actor)
    scope = list_scope(actor, unit)
    if deadline_before is not None and actor.role == "mediator":
        mediator = actor.user_id  # a mediator's queue holds the cases assigned to them
    total, rows = ctx.model.query(
        units=scope,
        filters={"status": status, "category": category, "mediator": mediator},
        at_most={"deadline": deadline_before.isoformat() if deadline_before else None},
        order_by="deadline" if deadline_before else None,
        limit=limit,
        offset=offset,
    )
    items = [_view(actor, r) for r in rows]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/{case_id}")
async def get_dispute(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one dispute as it stands (its content only to those it is confided to)."""
    no_admin(actor)
    row = case_row_for(ctx, actor, case_id, acting=False)
    view = _view(actor, row)
    if view["confidential"]:
        return view
    return {**view, **_personal(ctx, actor, case_id)}


@router.get("/{case_id}/history")
async def dispute_history(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return the dispute's events, oldest first, as recorded (personal data sealed)."""
    no_admin(actor)
    row = case_row_for(ctx, actor, case_id, acting=False)
    if not _confidant(actor, row, json.loads(row["state"])):
        raise Problem(
            403,
            "Confidential",
            "mediation is confidential: only the assigned mediator, the unit's chair and"
            " auditors read its history",
        )
    return {"case_id": case_id, "events": ctx.model.history(case_id)}
