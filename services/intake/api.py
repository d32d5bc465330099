"""HTTP routes of grievance intake: its commands as a table, and views of the projection."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field, model_validator

from contracts import grievance as g
from contracts.envelope import Actor
from contracts.personal import Sealed
from contracts.scope import DisputeCategory
from services.common.asof import AsOf, instant, report, report_states
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Day, Imported, Moment, Transition
from services.common.commands import Opening, Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.queries import (
    Page,
    Skip,
    case_view,
    history_route,
    listing,
    period,
    report_unit,
    revealed,
    row_to_read,
    sealing_key,
)
from services.common.receipt_guard import ReceiptGuard
from services.common.receipt_routes import receipt_routes, worker_said
from services.common.views import PERSONAL_ROLES, SEALED
from services.intake.domain import CASE_PREFIX, Grievance, Status, statistics
from services.intake.public import public_view

router = APIRouter(prefix="/grievances", tags=["grievances"])
receipts_router = APIRouter(prefix="/receipts", tags=["receipts"])
stats_router = APIRouter(tags=["statistics"])
PERSONAL_DATA_ROLES = PERSONAL_ROLES["grievance"]
# The free text a grievance's state holds sealed, shown to whoever may read the case.
TEXTS = ("summary", "resolution", "decision")


class Complainant(Body):
    """The worker who complains; encrypted before it leaves this service."""

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,20}$")
    # Asked when the complaint is logged: may the union text the worker how it stands?
    progress_messages: bool = False

    @model_validator(mode="after")
    def _reachable(self) -> Complainant:
        if self.progress_messages and not self.phone:
            raise ValueError("progress messages need the worker's phone")
        return self


class LogBody(Body):
    """A new grievance as a rep logs it."""

    unit: str = Field(min_length=1, max_length=256)
    category: g.Category
    summary: str = Field(min_length=1, max_length=200)
    details: str | None = Field(default=None, max_length=4000)
    channel: g.Channel
    complainant: Complainant | None = None
    anonymous: bool = False
    received_at: Moment | None = None
    imported: Imported | None = None

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
    due: Day


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


def _logged(ctx: ServiceContext, case_id: str, body: LogBody) -> g.LogGrievance:
    """Seal the complainant, the summary and the details, and fix the day's service levels."""
    complainant = None
    details_kid = f"CASE-{case_id}"
    if body.complainant is not None:
        complainant = ctx.sealer.seal_person(body.complainant.name, body.complainant.phone)
        details_kid = complainant.person_id
    levels = ctx.units.service_levels(body.unit)
    return g.LogGrievance(
        unit=body.unit,
        category=body.category,
        summary=ctx.sealer.seal(details_kid, body.summary),
        details=ctx.sealer.seal(details_kid, body.details) if body.details else None,
        channel=body.channel,
        anonymous=body.anonymous,
        complainant=complainant,
        ack_working_days=levels.ack_working_days,
        answer_working_days=levels.answer_working_days,
        progress_messages=body.complainant.progress_messages if body.complainant else None,
    )


command_routes(
    router,
    opening=Opening(
        name="log_grievance",
        description="Log a worker's grievance.",
        command="log",
        body=LogBody,
        prefix=CASE_PREFIX,
        payload=_logged,
        what="log grievances",
        occurred_at="received_at",
        receipt=True,
    ),
    verbs=[
        Verb(
            "acknowledge",
            "acknowledge",
            "Acknowledge receipt to the worker.",
            Transition,
            lambda _ctx, _row, _b: g.Acknowledge(),
            optional=True,
        ),
        Verb(
            "resolve",
            "resolve",
            "Record how the matter was resolved.",
            ResolveBody,
            lambda ctx, row, b: g.Resolve(
                how=b.how, resolution=ctx.sealer.seal(sealing_key(row), b.resolution)
            ),
        ),
        Verb(
            "escalate",
            "escalate",
            "Escalate to the leadership team with a named follow-up owner and due date.",
            EscalateBody,
            lambda _ctx, _row, b: g.Escalate(owner=b.owner, due=b.due),
        ),
        Verb(
            "decision",
            "record_decision",
            "Record the leadership team's decision.",
            DecisionBody,
            lambda ctx, row, b: g.RecordDecision(
                decision=ctx.sealer.seal(sealing_key(row), b.decision)
            ),
        ),
        Verb(
            "refer-to-mediation",
            "refer_to_mediation",
            "Refer the grievance to labour-dispute mediation.",
            ReferBody,
            lambda _ctx, _row, b: g.ReferToMediation(dispute_category=b.dispute_category),
        ),
        Verb(
            "feedback",
            "give_feedback",
            "Record feedback given to the worker (the note is encrypted).",
            FeedbackBody,
            lambda ctx, row, b: g.GiveFeedback(note=ctx.sealer.seal(sealing_key(row), b.note)),
        ),
        Verb(
            "close",
            "close",
            "Close a resolved grievance.",
            Transition,
            lambda _ctx, _row, _b: g.Close(),
            optional=True,
        ),
        Verb(
            "reopen",
            "reopen",
            "Send the grievance back to work.",
            ReasonBody,
            lambda ctx, row, b: g.Reopen(reason=ctx.sealer.seal(sealing_key(row), b.reason)),
        ),
        Verb(
            "withdraw",
            "withdraw",
            "Withdraw the grievance at the worker's request.",
            WithdrawBody,
            lambda ctx, row, b: g.Withdraw(
                reason=ctx.sealer.seal(sealing_key(row), b.reason) if b.reason else None
            ),
            optional=True,
        ),
    ],
)


def _public(ctx: ServiceContext, case: Grievance) -> dict[str, Any]:
    return public_view(case, ctx.units.service_levels(case.unit).callback_working_days)


receipt_routes(router, receipts_router, _public, guard=ReceiptGuard())


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


def _view(ctx: ServiceContext, row: Any) -> dict[str, Any]:
    """A grievance as its readers see it: the summary, decision and resolution opened."""
    return revealed(ctx.sealer, case_view(row), TEXTS)


@router.get("")
async def list_grievances(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    status: Status | None = None,
    category: g.Category | None = None,
    overdue: bool | None = None,
    opened_from: Day | None = None,
    opened_to: Day | None = None,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """List grievances in the caller's units, newest first, filtered and paged."""
    filters = {
        "status": status,
        "category": category,
        **period(opened_from, opened_to, ("opened_from", "opened_to")),
        "overdue": overdue,
    }
    return listing(ctx, actor, unit, filters, limit, offset, view=lambda row: _view(ctx, row))


@router.get("/{case_id}")
async def get_grievance(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one grievance as it stands."""
    row = row_to_read(ctx, actor, case_id)
    said = worker_said(ctx, case_id, readable=actor.role in PERSONAL_DATA_ROLES)
    return {**_view(ctx, row), **_personal(ctx, actor, case_id), "worker_said": said}


history_route(
    router,
    "grievance_history",
    "Return the grievance's events, oldest first, exactly as recorded (personal data sealed);"
    " `opened` gives an event's summary, decision, resolution or reason as text.",
    texts=("summary", "resolution", "decision", "reason"),
)


@stats_router.get("/stats")
async def grievance_stats(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    from_: Annotated[Day | None, Query(alias="from")] = None,
    to: Day | None = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Count a unit's grievances opened in a period, by status and category, with punctuality."""
    unit = report_unit(ctx, actor, unit, known=False)
    filters = period(from_, to)

    def count() -> dict[str, object]:
        cases: list[Grievance] = report_states(ctx.model, unit, filters, as_of)
        return statistics(cases)

    figures = report(ctx.model, (unit, from_, to, as_of), count)
    return {"unit": unit, "from": from_, "to": to, "as_of": instant(as_of), **figures}
