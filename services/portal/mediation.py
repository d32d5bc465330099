"""Pages of a mediator: the queue by days left on the 15-day clock, and the dispute's steps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.mediation.domain import ALLOWED_FROM, MEDIATION_DAYS, ROLES
from services.portal.client import ApiError
from services.portal.democracy import Step
from services.portal.receipts import shown_once, slip_of
from services.portal.web import Page, UserPage, form_of, friendly, horizon

router = APIRouter()
AMBER_DAYS = 5
RED_DAYS = 2
QUEUE_HORIZON_DAYS = 400

STEPS = (
    Step("accept", "accept", "action.accept", ROLES["accept"]),
    Step("assign", "assign", "action.assign", ROLES["assign"], ("mediator",)),
    Step(
        "sessions",
        "record_session",
        "action.session",
        ROLES["record_session"],
        ("held_on", "attendees", "minutes"),
    ),
    Step("extend", "extend", "action.extend", ROLES["extend"], ("days", "consent")),
    Step(
        "agreement",
        "record_agreement",
        "action.agreement",
        ROLES["record_agreement"],
        ("terms", "amount", "perform_by", "signed"),
    ),
    Step("performed", "record_performance", "action.performed", ROLES["record_performance"]),
    Step("breached", "record_breach", "action.breached", ROLES["record_breach"], ("reason",)),
    Step("fail", "fail", "action.fail", ROLES["fail"], ("reason",)),
    Step(
        "refer-to-arbitration",
        "refer_to_arbitration",
        "action.arbitration",
        ROLES["refer_to_arbitration"],
    ),
)
FIELD_LABELS = {
    "mediator": "field.mediator",
    "held_on": "field.held_on",
    "attendees": "field.attendees",
    "minutes": "field.minutes",
    "days": "field.days",
    "consent": "dispute.consent",
    "terms": "field.terms",
    "amount": "field.amount",
    "perform_by": "field.perform_by",
    "signed": "dispute.signed",
    "reason": "field.reason",
}


def clock(days_left: int | None) -> dict[str, Any] | None:
    """The 15-day clock as a bar: its share left and its tone (amber at 5 days, red at 2)."""
    if days_left is None:
        return None
    tone = "red" if days_left <= RED_DAYS else "amber" if days_left <= AMBER_DAYS else "green"
    share = max(0.0, min(1.0, days_left / MEDIATION_DAYS))
    return {"left": days_left, "tone": tone, "percent": round(100 * share, 1)}


def _body(step: Step, values: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for f in step.fields:
        if f == "consent":
            body["consent"] = ["applicant", "respondent"]
        elif f == "signed":
            body["signed_by"] = ["applicant", "respondent", "mediator"]
        elif f == "attendees":
            body["attendees"] = [a.strip() for a in values[f].replace("，", ",").split(",") if a]
        else:
            body[f] = values[f]
    return body


@router.get("/disputes", response_class=HTMLResponse)
async def queue(page: UserPage) -> Response:
    """Running mediations by days left, and applications awaiting acceptance."""
    actor = page.user()
    scope = {} if actor.role == "auditor" else {"unit": actor.unit}
    error = None
    running: list[dict[str, Any]] = []
    applied: list[dict[str, Any]] = []
    try:
        running = (
            await page.get(
                "mediation",
                "/disputes",
                {**scope, "deadline_before": horizon(QUEUE_HORIZON_DAYS), "limit": 200},
            )
        )["items"]
        applied = (
            await page.get("mediation", "/disputes", {**scope, "status": "applied", "limit": 200})
        )["items"]
    except ApiError as exc:
        error = friendly(page.words, exc)
    running = [d for d in running if d["status"] in ("accepted", "mediating")]
    for d in running:
        d["clock"] = clock(d.get("days_left"))
    return page.render("disputes.html", error=error, running=running, applied=applied)


async def _dispute_page(
    page: Page,
    case_id: str,
    *,
    error: dict[str, str] | None = None,
    failed: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    try:
        case = await page.get("mediation", f"/disputes/{case_id}")
    except ApiError as exc:
        return page.render("problem.html", status=exc.status, error=friendly(page.words, exc))
    events: list[dict[str, Any]] = []
    if not case.get("confidential"):
        try:
            events = (await page.get("mediation", f"/disputes/{case_id}/history"))["events"]
        except ApiError:
            events = []
    actor = page.user()
    steps = [
        step
        for step in STEPS
        if actor.role in step.roles and case["status"] in ALLOWED_FROM.get(step.command, ())
    ]
    slip = slip_of(page, case_id)
    response = page.render(
        "dispute.html",
        status=int(error.get("status", "422")) if error else 200,
        case=case,
        clock=clock(case.get("days_left")),
        events=events,
        steps=steps,
        error=error,
        failed=failed,
        values=values or {},
        field_labels=FIELD_LABELS,
        done=page.request.query_params.get("done"),
        slip=slip,
        reissuable=actor.role in ROLES["reissue_receipt"] and bool(case.get("receipt")),
    )
    return shown_once(response, case_id, "disputes") if slip else response


@router.get("/disputes/{case_id}", response_class=HTMLResponse)
async def dispute_page(case_id: str, page: UserPage) -> Response:
    """One dispute: its clocks, its limitation date, its sessions and the next steps."""
    return await _dispute_page(page, case_id)


@router.post("/disputes/{case_id}/{verb}", response_class=HTMLResponse)
async def dispute_step(case_id: str, verb: str, page: UserPage, request: Request) -> Response:
    """Record a session, an extension, an agreement, a failure or a referral."""
    step = next((x for x in STEPS if x.verb == verb), None)
    values = await form_of(request)
    t = page.words
    if step is None:
        return page.render(
            "problem.html", status=404, error={"message": t("error.404"), "detail": ""}
        )
    missing = [f for f in step.fields if not values.get(f)]
    if missing:
        message = t("error.required", field=t(FIELD_LABELS[missing[0]]))
        error = {"message": message, "detail": ""}
        return await _dispute_page(page, case_id, error=error, failed=verb, values=values)
    try:
        await page.post(
            "mediation",
            f"/disputes/{case_id}/{verb}",
            _body(step, values),
            key=values.get("key") or None,
        )
    except ApiError as exc:
        error = {**friendly(t, exc), "status": str(exc.status)}
        return await _dispute_page(page, case_id, error=error, failed=verb, values=values)
    return RedirectResponse(f"/disputes/{case_id}?done={verb}", status_code=303)
