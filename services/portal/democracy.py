"""Pages of the democratic-management group: review, vote, tally, leadership, proposals, queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts import suggestion as s
from services.portal.client import ApiError
from services.portal.web import Page, UserPage, form_of, friendly
from services.suggestions.domain import (
    CHAIR,
    GROUP,
    QUERY_ALLOWED_FROM,
    SUGGESTION_ALLOWED_FROM,
    carried,
    count,
    has_quorum,
)

router = APIRouter()
QUERY_AREAS = get_args(s.QueryArea)
AWAITING = ("submitted", "under_review")


@dataclass(frozen=True)
class Step:
    """A transition offered on a suggestion or query: its path verb, command, roles and fields."""

    verb: str
    command: str
    label: str
    roles: tuple[str, ...]
    fields: tuple[str, ...] = ()


SUGGESTION_STEPS = (
    Step("open-review", "open_review", "action.open_review", GROUP, ("meeting",)),
    Step("close-vote", "close_vote", "action.close_vote", GROUP),
    Step(
        "refer-to-leadership",
        "refer_to_leadership",
        "action.refer_leadership",
        CHAIR,
        ("owner", "due"),
    ),
    Step(
        "leadership-response",
        "record_leadership_response",
        "action.leadership_response",
        GROUP,
        ("response",),
    ),
    Step("implement", "implement", "action.implement", GROUP, ("note",)),
)
QUERY_STEPS = (
    Step("answer", "answer", "action.answer", GROUP, ("answer",)),
    Step("accept-answer", "accept_answer", "action.accept_answer", GROUP),
    Step("reject-answer", "reject_answer", "action.reject_answer", GROUP, ("reason",)),
)
FIELD_LABELS = {
    "meeting": "field.meeting",
    "owner": "field.owner",
    "due": "field.due",
    "response": "field.answer",
    "note": "field.resolution",
    "answer": "field.answer",
    "reason": "field.reason",
    "question": "field.question",
    "addressed_to": "field.addressed_to",
    "area": "field.area",
}


def tally(case: dict[str, Any]) -> dict[str, Any] | None:
    """Count a review's votes live, against quorum (two thirds) and a majority of all members."""
    review = case.get("review")
    if not review:
        return None
    members = list(review["members"])
    counted = count(members, case.get("votes") or {})
    sitting = counted.sitting
    return {
        "sitting": sitting,
        "for": counted.votes_for,
        "against": counted.votes_against,
        "abstain": counted.abstentions,
        "voted": counted.voted,
        "quorum": -(-2 * sitting // 3),
        "majority": sitting // 2 + 1,
        "has_quorum": has_quorum(counted),
        "carried": carried(counted),
        "members": members,
    }


async def _list(page: Page, path: str, **params: Any) -> list[dict[str, Any]]:
    actor = page.user()
    scope = {} if actor.role == "auditor" else {"unit": actor.unit}
    items: list[dict[str, Any]] = (
        await page.get("suggestions", path, {**scope, **params, "limit": 100})
    )["items"]
    return items


@router.get("/suggestions", response_class=HTMLResponse)
async def suggestions_page(page: UserPage) -> Response:
    """Suggestions awaiting review, proposals with the veto, and the rest."""
    error = None
    awaiting: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    try:
        for status in AWAITING:
            awaiting += await _list(page, "/suggestions", status=status)
        others = [c for c in await _list(page, "/suggestions") if c["status"] not in AWAITING]
    except ApiError as exc:
        error = friendly(page.words, exc)
    for case in awaiting:
        case["live"] = tally(case)
    return page.render(
        "suggestions.html",
        error=error,
        awaiting=[c for c in awaiting if c["kind"] == "suggestion"],
        proposals=[c for c in awaiting if c["kind"] == "management_proposal"],
        others=others[:30],
    )


async def _suggestion_page(
    page: Page,
    case_id: str,
    *,
    error: dict[str, str] | None = None,
    failed: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    try:
        case = await page.get("suggestions", f"/suggestions/{case_id}")
        events = (await page.get("suggestions", f"/suggestions/{case_id}/history"))["events"]
    except ApiError as exc:
        return page.render("problem.html", status=exc.status, error=friendly(page.words, exc))
    actor = page.user()
    steps = [
        step
        for step in SUGGESTION_STEPS
        if actor.role in step.roles
        and case["status"] in SUGGESTION_ALLOWED_FROM.get(step.command, ())
    ]
    counted = tally(case)
    mine = (case.get("votes") or {}).get(actor.user_id)
    may_vote = (
        case["status"] == "under_review"
        and actor.role in GROUP
        and counted is not None
        and actor.user_id in counted["members"]
        and mine is None
    )
    return page.render(
        "suggestion.html",
        status=int(error.get("status", "422")) if error else 200,
        case=case,
        events=events,
        tally=counted,
        steps=steps,
        may_vote=may_vote,
        mine=mine,
        error=error,
        failed=failed,
        values=values or {},
        field_labels=FIELD_LABELS,
        done=page.request.query_params.get("done"),
    )


@router.get("/suggestions/{case_id}", response_class=HTMLResponse)
async def suggestion_page(case_id: str, page: UserPage) -> Response:
    """One suggestion or proposal: content, live tally, vote buttons and the next steps."""
    return await _suggestion_page(page, case_id)


@router.post("/suggestions/{case_id}/vote", response_class=HTMLResponse)
async def vote(case_id: str, page: UserPage, request: Request) -> Response:
    """Cast the signed-in member's own vote with one click."""
    values = await form_of(request)
    body = {"member": page.user().user_id, "vote": values.get("vote", "")}
    try:
        await page.post(
            "suggestions", f"/suggestions/{case_id}/votes", body, key=values.get("key") or None
        )
    except ApiError as exc:
        error = {**friendly(page.words, exc), "status": str(exc.status)}
        return await _suggestion_page(page, case_id, error=error)
    return RedirectResponse(f"/suggestions/{case_id}?done=vote", status_code=303)


async def _step(
    page: Page, request: Request, resource: str, case_id: str, step: Step | None
) -> dict[str, Any] | None:
    """Send a step's command; return the error to show with the typed values, or None."""
    values = await form_of(request)
    t = page.words
    if step is None:
        return {"error": {"message": t("error.404"), "detail": "", "status": "404"}}
    missing = [f for f in step.fields if not values.get(f)]
    if missing:
        message = t("error.required", field=t(FIELD_LABELS[missing[0]]))
        return {"error": {"message": message, "detail": ""}, "values": values}
    body = {f: values[f] for f in step.fields}
    try:
        await page.post(
            "suggestions", f"/{resource}/{case_id}/{step.verb}", body, key=values.get("key") or None
        )
    except ApiError as exc:
        return {"error": {**friendly(t, exc), "status": str(exc.status)}, "values": values}
    return None


@router.post("/suggestions/{case_id}/{verb}", response_class=HTMLResponse)
async def suggestion_step(case_id: str, verb: str, page: UserPage, request: Request) -> Response:
    """Open the review, close the vote, refer to leadership, record the answer or the result."""
    step = next((x for x in SUGGESTION_STEPS if x.verb == verb), None)
    failure = await _step(page, request, "suggestions", case_id, step)
    if failure:
        return await _suggestion_page(
            page, case_id, error=failure["error"], failed=verb, values=failure.get("values")
        )
    return RedirectResponse(f"/suggestions/{case_id}?done={verb}", status_code=303)


# --- queries (质询) -------------------------------------------------------------------


async def _queries_page(
    page: Page, *, error: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Response:
    items: list[dict[str, Any]] = []
    try:
        items = await _list(page, "/queries")
    except ApiError as exc:
        error = error or friendly(page.words, exc)
    actor = page.user()
    for item in items:
        item["steps"] = [
            step
            for step in QUERY_STEPS
            if actor.role in step.roles
            and item["status"] in QUERY_ALLOWED_FROM.get(step.command, ())
        ]
    return page.render(
        "queries.html",
        status=int(error.get("status", "422")) if error else 200,
        items=items,
        areas=QUERY_AREAS,
        error=error,
        values=values or {},
        may_raise=actor.role in GROUP,
        field_labels=FIELD_LABELS,
    )


@router.get("/queries", response_class=HTMLResponse)
async def queries_page(page: UserPage) -> Response:
    """The group's queries to management, and a form to raise one."""
    return await _queries_page(page)


@router.post("/queries", response_class=HTMLResponse)
async def raise_query(page: UserPage, request: Request) -> Response:
    """Raise a query; an error keeps what was typed."""
    values = await form_of(request)
    t = page.words
    missing = [f for f in ("area", "question", "addressed_to") if not values.get(f)]
    if missing:
        message = t("error.required", field=t(FIELD_LABELS[missing[0]]))
        return await _queries_page(page, error={"message": message, "detail": ""}, values=values)
    body = {
        "unit": page.user().unit,
        "area": values["area"],
        "question": values["question"],
        "addressed_to": values["addressed_to"],
    }
    try:
        await page.post("suggestions", "/queries", body, key=values.get("key") or None)
    except ApiError as exc:
        error = {**friendly(t, exc), "status": str(exc.status)}
        return await _queries_page(page, error=error, values=values)
    return RedirectResponse("/queries?done=raised", status_code=303)


@router.post("/queries/{case_id}/{verb}", response_class=HTMLResponse)
async def query_step(case_id: str, verb: str, page: UserPage, request: Request) -> Response:
    """Record management's answer, or accept or reject it."""
    step = next((x for x in QUERY_STEPS if x.verb == verb), None)
    failure = await _step(page, request, "queries", case_id, step)
    if failure:
        return await _queries_page(page, error=failure["error"], values=failure.get("values"))
    return RedirectResponse("/queries?done=" + verb, status_code=303)
