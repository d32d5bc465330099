"""Pages of a rep: log a grievance on a phone, the unit's list, the case with its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts import grievance as g
from contracts.scope import DisputeCategory
from services.intake.domain import ALLOWED_FROM
from services.portal.client import ApiError
from services.portal.receipts import shown_once, slip_of, with_slip
from services.portal.web import Page, UserPage, days_until, form_of, friendly

router = APIRouter()
CATEGORIES = get_args(g.Category)
CHANNELS = get_args(g.Channel)
HOWS = get_args(g.ResolvedHow)
DISPUTE_CATEGORIES = get_args(DisputeCategory)
ACTING_ROLES = ("worker_rep", "union_chair")


@dataclass(frozen=True)
class Action:
    """A transition offered on the case page: its path verb, command and form fields."""

    verb: str
    command: str
    label: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


ACTIONS = (
    Action("acknowledge", "acknowledge", "action.acknowledge"),
    Action("resolve", "resolve", "action.resolve", ("how", "resolution")),
    Action("escalate", "escalate", "action.escalate", ("owner", "due")),
    Action("decision", "record_decision", "action.decision", ("decision",)),
    Action("refer-to-mediation", "refer_to_mediation", "action.refer", ("dispute_category",)),
    Action("feedback", "give_feedback", "action.feedback", ("note",)),
    Action("close", "close", "action.close"),
    Action("reopen", "reopen", "action.reopen", ("reason",)),
    Action("withdraw", "withdraw", "action.withdraw", (), ("reason",)),
)
BY_VERB = {a.verb: a for a in ACTIONS}
FIELD_LABELS = {
    "how": "field.how",
    "resolution": "field.resolution",
    "owner": "field.owner",
    "due": "field.due",
    "decision": "field.decision",
    "dispute_category": "field.dispute_category",
    "note": "field.note",
    "reason": "field.reason",
    "summary": "field.summary",
    "category": "field.category",
    "channel": "field.channel",
    "name": "field.complainant_name",
}


def service_level(case: dict[str, Any]) -> dict[str, Any] | None:
    """Return the service level running now (acknowledge, then answer) and its days left."""
    status = case.get("status")
    if status == "logged":
        stage, due = "ack", case.get("ack_due")
    elif status in ("acknowledged", "reopened"):
        stage, due = "answer", case.get("answer_due")
    else:
        return None
    left = days_until(due)
    if left is None:
        return None
    tone = "red" if left < 1 else "amber" if left < 2 else "green"
    return {"stage": stage, "due": due, "left": left, "tone": tone}


def sla_text(page: Page, level: dict[str, Any] | None) -> str:
    """Say how long is left on the service level, in the page's language."""
    t = page.words
    if level is None:
        return t("sla.none")
    left = int(level["left"])
    stage = t(f"sla.{level['stage']}")
    if left > 0:
        return f"{stage} · {t('sla.left', n=left)}"
    if left == 0:
        return f"{stage} · {t('sla.today')}"
    return f"{stage} · {t('sla.over', n=-left)}"


@router.get("/grievances", response_class=HTMLResponse)
async def list_page(page: UserPage) -> Response:
    """The unit's grievances, newest first, with status and time left."""
    actor = page.user()
    error = None
    items: list[dict[str, Any]] = []
    try:
        params = {"limit": 100} if actor.role == "auditor" else {"unit": actor.unit, "limit": 100}
        items = (await page.get("intake", "/grievances", params))["items"]
    except ApiError as exc:
        error = friendly(page.words, exc)
    rows = [{**c, "sla": sla_text(page, level := service_level(c)), "level": level} for c in items]
    return page.render("grievances.html", rows=rows, error=error)


def _new_form(page: Page, values: dict[str, str], error: dict[str, str] | None) -> Response:
    return page.render(
        "grievance_new.html",
        status=int(error.get("status", "422")) if error else 200,
        values=values,
        error=error,
        categories=CATEGORIES,
        channels=CHANNELS,
    )


@router.get("/grievances/new", response_class=HTMLResponse)
async def new_page(page: UserPage) -> Response:
    """The log-a-grievance form, laid out for a phone."""
    actor = page.user()
    return _new_form(page, {"unit": actor.unit, "channel": "in_person"}, None)


@router.post("/grievances/new", response_class=HTMLResponse)
async def log(page: UserPage, request: Request) -> Response:
    """Log the grievance; on any error show the form again with what was typed."""
    actor = page.user()
    values = await form_of(request)
    values.setdefault("unit", actor.unit)
    t = page.words
    anonymous = values.get("anonymous") == "on"
    missing = [f for f in ("category", "channel", "summary") if not values.get(f)]
    if missing:
        message = t("error.required", field=t(FIELD_LABELS[missing[0]]))
        return _new_form(page, values, {"message": message, "detail": ""})
    if not anonymous and not values.get("name"):
        return _new_form(page, values, {"message": t("error.complainant"), "detail": ""})
    body: dict[str, Any] = {
        "unit": values["unit"],
        "category": values["category"],
        "channel": values["channel"],
        "summary": values["summary"],
        "details": values.get("details") or None,
    }
    if anonymous:
        body["anonymous"] = True
    else:
        body["complainant"] = {"name": values["name"], "phone": values.get("phone") or None}
    try:
        result = await page.post("intake", "/grievances", body, key=values.get("key") or None)
    except ApiError as exc:
        return _new_form(page, values, {**friendly(t, exc), "status": str(exc.status)})
    case_id = result["case_id"]
    return with_slip(f"/grievances/{case_id}?done=logged", case_id, result["receipt"])


async def _case_page(
    page: Page,
    case_id: str,
    *,
    error: dict[str, str] | None = None,
    failed: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    try:
        case = await page.get("intake", f"/grievances/{case_id}")
        events = (await page.get("intake", f"/grievances/{case_id}/history"))["events"]
    except ApiError as exc:
        status = exc.status if exc.status in (401, 403, 404, 503) else 502
        return page.render("problem.html", status=status, error=friendly(page.words, exc))
    actor = page.user()
    acting = actor.role in ACTING_ROLES
    offered = [a for a in ACTIONS if acting and case["status"] in ALLOWED_FROM.get(a.command, ())]
    done = page.request.query_params.get("done")
    slip = slip_of(page, case_id)
    response = page.render(
        "grievance.html",
        status=int(error.get("status", "422")) if error else 200,
        case=case,
        events=events,
        actions=offered,
        sla=sla_text(page, service_level(case)),
        level=service_level(case),
        error=error,
        failed=failed,
        values=values or {},
        done=done,
        hows=HOWS,
        dispute_categories=DISPUTE_CATEGORIES,
        field_labels=FIELD_LABELS,
        slip=slip,
        reissuable=acting and case.get("receipt") is not None,
    )
    return shown_once(response, case_id, "grievances") if slip else response


@router.get("/grievances/{case_id}", response_class=HTMLResponse)
async def case_page(case_id: str, page: UserPage) -> Response:
    """One grievance: where it stands, its timeline and the next steps."""
    return await _case_page(page, case_id)


@router.post("/grievances/{case_id}/{verb}", response_class=HTMLResponse)
async def act(case_id: str, verb: str, page: UserPage, request: Request) -> Response:
    """Take a step on the case; an error shows the page again with what was typed."""
    action = BY_VERB.get(verb)
    values = await form_of(request)
    t = page.words
    if action is None:
        return page.render(
            "problem.html", status=404, error={"message": t("error.404"), "detail": ""}
        )
    missing = [f for f in action.required if not values.get(f)]
    if missing:
        message = t("error.required", field=t(FIELD_LABELS[missing[0]]))
        return await _case_page(
            page,
            case_id,
            error={"message": message, "detail": ""},
            failed=verb,
            values=values,
        )
    body = {f: values[f] for f in (*action.required, *action.optional) if values.get(f)}
    try:
        await page.post(
            "intake", f"/grievances/{case_id}/{verb}", body, key=values.get("key") or None
        )
    except ApiError as exc:
        return await _case_page(
            page,
            case_id,
            error={**friendly(t, exc), "status": str(exc.status)},
            failed=verb,
            values=values,
        )
    return RedirectResponse(f"/grievances/{case_id}?done={verb}", status_code=303)
