"""Pages of the case library (以案说法): search, propose, edit, review, publish, print, teach."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts.library import AttendeeRole
from services.library.domain.typical import EDITABLE, PROPOSERS, REVIEWERS
from services.portal.client import ApiError
from services.portal.web import Page, UserPage, form_of, friendly, today

router = APIRouter()
ATTENDEES: tuple[AttendeeRole, ...] = (
    "union_cadre",
    "management",
    "member_representative",
    "worker",
    "mediator",
    "other",
)
SEARCH = ("category", "article", "tag")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]


def _problem(page: Page, exc: ApiError) -> dict[str, str]:
    if exc.status == 503:
        return {"message": page.words("error.503"), "detail": ""}
    return friendly(page.words, exc)


async def _list(page: Page, status: int = 200, error: dict[str, str] | None = None) -> Response:
    actor = page.user()
    query = {k: page.request.query_params.get(k) or None for k in SEARCH}
    published: dict[str, Any] = {"items": []}
    drafts: dict[str, Any] = {"items": []}
    try:
        published = await page.get("library", "/typical-cases", {**query, "limit": 100})
        if actor.role in PROPOSERS:
            drafts = await page.get("library", "/typical-cases", {"drafts": "true", "limit": 100})
    except ApiError as exc:
        error = error or _problem(page, exc)
    return page.render(
        "library.html",
        status=status,
        error=error,
        items=published["items"],
        drafts=drafts["items"],
        query={k: v or "" for k, v in query.items()},
        may_propose=actor.role in PROPOSERS,
    )


@router.get("/library", response_class=HTMLResponse)
async def library(page: UserPage) -> Response:
    """Published typical cases of the caller's branch, searchable; drafts for proposers."""
    return await _list(page)


@router.post("/library", response_class=HTMLResponse)
async def propose(page: UserPage, request: Request) -> Response:
    """Propose a closed case: the library drafts its anonymised text."""
    values = await form_of(request)
    body = {"unit": page.user().unit, "source_case_id": values.get("source_case_id", "")}
    try:
        made = await page.post("library", "/typical-cases", body, key=values.get("key") or None)
    except ApiError as exc:
        return await _list(page, status=exc.status, error=_problem(page, exc))
    return RedirectResponse(f"/library/{made['case_id']}?done=propose", status_code=303)


async def _case(
    page: Page, case_id: str, status: int = 200, error: dict[str, str] | None = None
) -> Response:
    actor = page.user()
    try:
        case = await page.get("library", f"/typical-cases/{case_id}")
    except ApiError as exc:
        return page.render("problem.html", status=exc.status, error=_problem(page, exc))
    state = case["status"]
    done = page.request.query_params.get("done") or ""
    return page.render(
        "typical.html",
        status=status,
        error=error,
        case=case,
        may_edit=state in EDITABLE and actor.user_id == case["proposer"],
        may_review=state == "edited"
        and actor.role in REVIEWERS
        and actor.user_id != case["proposer"],
        may_publish=state == "approved" and actor.role in PROPOSERS,
        done_label=f"library.done_{done}" if done else None,
    )


@router.get("/library/{case_id}", response_class=HTMLResponse)
async def typical_case(case_id: str, page: UserPage) -> Response:
    """One typical case, with the step its reader may take next."""
    return await _case(page, case_id)


@router.get("/library/{case_id}/handout", response_class=HTMLResponse)
async def handout(case_id: str, page: UserPage) -> Response:
    """A published typical case as a printable classroom handout."""
    try:
        case = await page.get("library", f"/typical-cases/{case_id}")
    except ApiError as exc:
        return page.render("problem.html", status=exc.status, error=_problem(page, exc))
    return page.render("handout.html", case=case, printed=today().isoformat())


@router.post("/library/{case_id}/{action}", response_class=HTMLResponse)
async def step(case_id: str, action: str, page: UserPage, request: Request) -> Response:
    """Edit, approve, send back or publish a typical case."""
    values = await form_of(request)
    body: dict[str, Any]
    if action == "edit":
        body = {
            "title": values.get("title", ""),
            "text": values.get("text", ""),
            "lesson": values.get("lesson", ""),
            "articles": _lines(values.get("articles", "")),
            "tags": _tags(values.get("tags", "")),
        }
    elif action in ("approve", "return"):
        body = {"note": values.get("note") or None}
    elif action == "publish":
        body = {}
    else:
        return page.render("problem.html", status=404, error=friendly(page.words, _missing()))
    try:
        path = f"/typical-cases/{case_id}/{action}"
        await page.post("library", path, body, key=values.get("key") or None)
    except ApiError as exc:
        return await _case(page, case_id, status=exc.status, error=_problem(page, exc))
    return RedirectResponse(f"/library/{case_id}?done={action}", status_code=303)


def _missing() -> ApiError:
    return ApiError(404, "Not found", "")


async def _sessions(page: Page, status: int = 200, error: dict[str, str] | None = None) -> Response:
    actor = page.user()
    sessions: dict[str, Any] = {"items": []}
    published: dict[str, Any] = {"items": []}
    try:
        sessions = await page.get("library", "/classrooms", {"limit": 200})
        published = await page.get("library", "/typical-cases", {"limit": 100})
    except ApiError as exc:
        error = error or _problem(page, exc)
    return page.render(
        "classrooms.html",
        status=status,
        error=error,
        sessions=sessions["items"],
        published=published["items"],
        attendees=ATTENDEES,
        may_record=actor.role in PROPOSERS,
        today=today().isoformat(),
        done=page.request.query_params.get("done") == "hold",
    )


@router.get("/classrooms", response_class=HTMLResponse)
async def classrooms(page: UserPage) -> Response:
    """The unit's classroom sessions, and the form that records one."""
    return await _sessions(page)


@router.post("/classrooms", response_class=HTMLResponse)
async def hold(page: UserPage, request: Request) -> Response:
    """Record a classroom session: date, place, cases used, attendance by role."""
    body_raw = (await request.body()).decode("utf-8", errors="replace")
    values = await form_of(request)
    cases = [c for c in parse_qs(body_raw).get("cases", []) if c]
    attendance = []
    for role in ATTENDEES:
        count = values.get(f"count_{role}", "")
        if count.isdigit() and int(count) > 0:
            attendance.append({"role": role, "count": int(count)})
    body = {
        "unit": page.user().unit,
        "held_on": values.get("held_on", ""),
        "place": values.get("place", ""),
        "cases": cases,
        "attendance": attendance,
    }
    try:
        await page.post("library", "/classrooms", body, key=values.get("key") or None)
    except ApiError as exc:
        return await _sessions(page, status=exc.status, error=_problem(page, exc))
    return RedirectResponse("/classrooms?done=hold", status_code=303)
