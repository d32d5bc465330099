"""HTTP routes of dispute mediation: its commands as a table, and views of the projection."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter

from contracts import dispute as d
from contracts.envelope import Actor, now_utc
from contracts.personal import Sealed
from contracts.scope import DisputeCategory
from services.common.bearer import CurrentActor
from services.common.bodies import Day, Transition
from services.common.calendar import local_date
from services.common.commands import Opening, Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.problems import Problem
from services.common.queries import (
    Page,
    Skip,
    history_route,
    listing,
    reveal,
    revealed,
    row_to_read,
    sealing_key,
)
from services.common.receipt_guard import ReceiptGuard
from services.common.receipt_routes import receipt_routes, worker_said
from services.common.views import PERSONAL_ROLES, SEALED, confided
from services.mediation.bodies import (
    AcceptBody,
    AgreementBody,
    ApplyBody,
    ArbitrationBody,
    AssignBody,
    DeclineBody,
    ExtendBody,
    ReasonBody,
    SessionBody,
    fen,
)
from services.mediation.domain import CASE_PREFIX, Dispute, Status
from services.mediation.public import public_view

router = APIRouter(prefix="/disputes", tags=["disputes"])
receipts_router = APIRouter(prefix="/receipts", tags=["receipts"])
# The free text a dispute's state holds sealed, opened for those the dispute is confided to.
TEXTS = ("agreement_terms", "outcome_reason")
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


def _applied(ctx: ServiceContext, _case_id: str, body: ApplyBody) -> d.Apply:
    """Seal the applicant, the matters and the reasons under the applicant's own key."""
    applicant = ctx.sealer.seal_person(body.applicant.name, body.applicant.phone)
    kid = applicant.person_id
    return d.Apply(
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
                description=ctx.sealer.seal(kid, c.description),
                amount_fen=fen(c.amount) if c.amount is not None else None,
            )
            for c in body.claims
        ),
        known_since=body.known_since,
        accept_on_receipt=body.accept_on_receipt,
        progress_messages=body.applicant.progress_messages,
    )


def _session(ctx: ServiceContext, row: Any, body: SessionBody) -> d.RecordSession:
    """Seal the minutes under the applicant's key."""
    return d.RecordSession(
        held_on=body.held_on,
        attendees=tuple(body.attendees),
        minutes=ctx.sealer.seal(sealing_key(row), body.minutes),
    )


def _agreement(ctx: ServiceContext, row: Any, body: AgreementBody) -> d.RecordAgreement:
    """Seal the agreement's terms under the applicant's key."""
    return d.RecordAgreement(
        terms=ctx.sealer.seal(sealing_key(row), body.terms),
        amount_fen=fen(body.amount),
        perform_by=body.perform_by,
        signed_by=tuple(body.signed_by),
    )


command_routes(
    router,
    opening=Opening(
        name="apply",
        description="Record an application for mediation.",
        command="apply",
        body=ApplyBody,
        prefix=CASE_PREFIX,
        payload=_applied,
        what="record disputes",
        occurred_at="received_at",
        receipt=True,
    ),
    verbs=[
        Verb(
            "accept",
            "accept",
            "Accept the application: the 15-day mediation period starts.",
            AcceptBody,
            lambda _ctx, _row, b: d.Accept(known_since=b.known_since),
            optional=True,
        ),
        Verb(
            "decline",
            "decline",
            "Decline the application, with a reason the worker can read.",
            DeclineBody,
            lambda ctx, row, b: d.Decline(
                code=b.code, reason=ctx.sealer.seal(sealing_key(row), b.reason)
            ),
        ),
        Verb(
            "assign",
            "assign",
            "Assign the mediator.",
            AssignBody,
            lambda _ctx, _row, b: d.AssignMediator(mediator=b.mediator, relation=b.relation),
        ),
        Verb(
            "sessions",
            "record_session",
            "Record a mediation session (the minutes are encrypted).",
            SessionBody,
            _session,
            name="record_session",
        ),
        Verb(
            "extend",
            "extend",
            "Extend the mediation period once, with both parties' consent.",
            ExtendBody,
            lambda _ctx, _row, b: d.Extend(days=b.days, consent=tuple(b.consent)),
        ),
        Verb(
            "agreement",
            "record_agreement",
            "Record the mediation agreement signed by both parties and the mediator.",
            AgreementBody,
            _agreement,
        ),
        Verb(
            "performed",
            "record_performance",
            "Record that the agreement was carried out.",
            Transition,
            lambda _ctx, _row, _b: d.RecordPerformance(),
            optional=True,
        ),
        Verb(
            "breached",
            "record_breach",
            "Record that the agreement was not carried out.",
            ReasonBody,
            lambda ctx, row, b: d.RecordBreach(reason=ctx.sealer.seal(sealing_key(row), b.reason)),
        ),
        Verb(
            "fail",
            "fail",
            "End the mediation without agreement.",
            ReasonBody,
            lambda ctx, row, b: d.Fail(reason=ctx.sealer.seal(sealing_key(row), b.reason)),
        ),
        Verb(
            "refer-to-arbitration",
            "refer_to_arbitration",
            "Record that the dispute went to the arbitration commission.",
            ArbitrationBody,
            lambda _ctx, _row, b: d.ReferToArbitration(commission=b.commission),
            optional=True,
        ),
    ],
)


def _public(_ctx: ServiceContext, case: Dispute) -> dict[str, Any]:
    return public_view(case)


receipt_routes(router, receipts_router, _public, guard=ReceiptGuard())


# --- queries ----------------------------------------------------------------


def _confidant(actor: Actor, row: Any, state: dict[str, Any]) -> bool:
    """Whether the caller may see the dispute's content: mediation is confidential."""
    return confided(actor, row["unit"], state)


def _opens_personal_data(actor: Actor) -> bool:
    return actor.role in PERSONAL_ROLES["dispute"]


def _days_left(deadline: str | None) -> int | None:
    if deadline is None:
        return None
    return (date.fromisoformat(deadline) - local_date(now_utc())).days


def _view(ctx: ServiceContext, actor: Actor, row: Any) -> dict[str, Any]:
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
        opened = revealed(ctx.sealer, full, TEXTS)
        opened["claims"] = [
            {**c, "description": reveal(ctx.sealer, c["description"])} for c in full["claims"]
        ]
        return {**opened, "confidential": False}
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


def _confidential(actor: Actor, row: Any) -> None:
    """Refuse the history to those the dispute is not confided to."""
    if not _confidant(actor, row, json.loads(row["state"])):
        raise Problem(
            403,
            "Confidential",
            "mediation is confidential: only the assigned mediator, the unit's chair and"
            " auditors read its history",
        )


@router.get("")
async def list_disputes(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    status: Status | None = None,
    category: DisputeCategory | None = None,
    mediator: str | None = None,
    deadline_before: Day | None = None,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """List disputes in the caller's units; with `deadline_before`, a queue by days left."""
    if deadline_before is not None and actor.role == "mediator":
        mediator = actor.user_id  # a mediator's queue holds the cases assigned to them
    return listing(
        ctx,
        actor,
        unit,
        {"status": status, "category": category, "mediator": mediator},
        limit,
        offset,
        view=lambda row: _view(ctx, actor, row),
        at_most={"deadline": deadline_before.isoformat() if deadline_before else None},
        order_by="deadline" if deadline_before else None,
    )


@router.get("/{case_id}")
async def get_dispute(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one dispute as it stands (its content only to those it is confided to)."""
    row = row_to_read(ctx, actor, case_id)
    view = _view(ctx, actor, row)
    if view["confidential"]:
        return view
    said = worker_said(ctx, case_id, readable=_opens_personal_data(actor))
    return {**view, **_personal(ctx, actor, case_id), "worker_said": said}


history_route(
    router,
    "dispute_history",
    "Return the dispute's events, oldest first, as recorded (personal data sealed);"
    " `opened` gives an event's agreement terms or reason as text.",
    guard=_confidential,
    texts=("terms", "reason"),
)
