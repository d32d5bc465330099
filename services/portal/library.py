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
    sessions: dict[str, Any] = {"items": []}
    try:
        published = await page.get("library", "/typical-cases", {**query, "limit": 100})
        if actor.role != "volunteer":
            sessions = await page.get("library", "/classrooms", {"limit": 200})
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
        sessions=sessions["items"],
        held=page.request.query_params.get("done") == "hold",
        query={k: v or "" for k, v in query.items()},
        may_propose=actor.role in PROPOSERS,
    )


@router.get("/library", response_class=HTMLResponse)
async def library(page: UserPage) -> Response:
    """Published typical cases of the caller's branch, searchable, and the classroom sessions
    that taught them; drafts for proposers."""
    return await _list(page)


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
    may_teach = state == "published" and actor.role in PROPOSERS
    others: list[dict[str, Any]] = []
    if may_teach:
        try:
            listed = await page.get("library", "/typical-cases", {"limit": 100})
            others = [c for c in listed["items"] if c["case_id"] != case_id]
        except ApiError:
            others = []
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
        may_teach=may_teach,
        others=others,
        attendees=ATTENDEES,
        today=today().isoformat(),
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


@router.post("/library/{case_id}/classroom", response_class=HTMLResponse)
async def hold(case_id: str, page: UserPage, request: Request) -> Response:
    """Record a classroom session that taught this typical case (and others, if ticked)."""
    raw = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    values = await form_of(request)
    cases = [case_id, *(c for c in raw.get("cases", []) if c and c != case_id)]
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
        return await _case(page, case_id, status=exc.status, error=_problem(page, exc))
    return RedirectResponse("/library?done=hold#sessions", status_code=303)


@router.post("/library/{case_id}/{verb}", response_class=HTMLResponse)
async def step(case_id: str, verb: str, page: UserPage, request: Request) -> Response:
    """Edit, approve, send back or publish a typical case; propose a closed case as one."""
    values = await form_of(request)
    if verb == "propose":
        return await _propose(page, case_id, values.get("key") or None)
    body: dict[str, Any]
    if verb == "edit":
        body = {
            "title": values.get("title", ""),
            "text": values.get("text", ""),
            "lesson": values.get("lesson", ""),
            "articles": _lines(values.get("articles", "")),
            "tags": _tags(values.get("tags", "")),
        }
    elif verb in ("approve", "return"):
        body = {"note": values.get("note") or None}
    elif verb == "publish":
        body = {}
    else:
        return page.render("problem.html", status=404, error=friendly(page.words, _missing()))
    try:
        path = f"/typical-cases/{case_id}/{verb}"
        await page.post("library", path, body, key=values.get("key") or None)
    except ApiError as exc:
        return await _case(page, case_id, status=exc.status, error=_problem(page, exc))
    return RedirectResponse(f"/library/{case_id}?done={verb}", status_code=303)


async def _propose(page: Page, source_case_id: str, key: str | None) -> Response:
    """Propose a closed dispute or grievance: the library drafts its anonymised text."""
    body = {"unit": page.user().unit, "source_case_id": source_case_id}
    try:
        made = await page.post("library", "/typical-cases", body, key=key)
    except ApiError as exc:
        return await _list(page, status=exc.status, error=_problem(page, exc))
    return RedirectResponse(f"/library/{made['case_id']}?done=propose", status_code=303)


def _missing() -> ApiError:
    return ApiError(404, "Not found", "")
