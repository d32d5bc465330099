"""Pages of the 护薪 teams: the roster and its registration, help asked, accepted and given."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts.library import HelpAction, Skill, VolunteerKind
from services.library.domain.helps import REQUESTERS
from services.library.domain.volunteers import REGISTRARS
from services.portal.client import ApiError
from services.portal.web import Page, UserPage, form_of, friendly

router = APIRouter()
KINDS: tuple[VolunteerKind, ...] = ("union_cadre", "worker_volunteer", "lawyer_volunteer")
SKILLS: tuple[Skill, ...] = ("wages", "social_insurance", "work_injury", "contracts")
ACTIONS: tuple[HelpAction, ...] = ("accompany", "check_pay_records", "legal_advice", "other")
ASKERS = tuple({role for roles in REQUESTERS.values() for role in roles})
STEPS = ("accept", "decline", "record", "end")


def _problem(page: Page, exc: ApiError) -> dict[str, str]:
    if exc.status == 503:
        return {"message": page.words("error.503"), "detail": ""}
    return friendly(page.words, exc)


async def _roster(page: Page, status: int = 200, error: dict[str, str] | None = None) -> Response:
    actor = page.user()
    roster: dict[str, Any] = {"items": []}
    try:
        roster = await page.get("library", "/volunteers", {"limit": 200})
    except ApiError as exc:
        error = error or _problem(page, exc)
    return page.render(
        "volunteers.html",
        status=status,
        error=error,
        items=roster["items"],
        kinds=KINDS,
        skills=SKILLS,
        may_register=actor.role in REGISTRARS,
        may_ask=actor.role in ASKERS,
        done=page.request.query_params.get("done"),
    )


@router.get("/volunteers", response_class=HTMLResponse)
async def volunteers(page: UserPage) -> Response:
    """The unit's volunteers by team, kind and skills; names only on each one's own page."""
    return await _roster(page)


@router.post("/volunteers", response_class=HTMLResponse)
async def register(page: UserPage, request: Request) -> Response:
    """Register a volunteer in a team."""
    raw = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    values = await form_of(request)
    body = {
        "unit": page.user().unit,
        "team": values.get("team", ""),
        "user_id": values.get("user_id", ""),
        "kind": values.get("kind", ""),
        "name": values.get("name", ""),
        "phone": values.get("phone") or None,
        "skills": [s for s in raw.get("skills", []) if s],
        "languages": [v.strip() for v in values.get("languages", "").split(",") if v.strip()],
        "availability": values.get("availability", ""),
    }
    try:
        await page.post("library", "/volunteers", body, key=values.get("key") or None)
    except ApiError as exc:
        return await _roster(page, status=exc.status, error=_problem(page, exc))
    return RedirectResponse("/volunteers?done=register", status_code=303)


@router.post("/volunteers/{case_id}/ask", response_class=HTMLResponse)
async def ask(case_id: str, page: UserPage, request: Request) -> Response:
    """Ask this volunteer to help on a dispute or a grievance."""
    values = await form_of(request)
    body = {
        "unit": page.user().unit,
        "source_case_id": values.get("source_case_id", ""),
        "volunteer_case_id": case_id,
        "brief": values.get("brief", ""),
    }
    try:
        await page.post("library", "/help", body, key=values.get("key") or None)
    except ApiError as exc:
        return await _roster(page, status=exc.status, error=_problem(page, exc))
    return RedirectResponse("/help?done=request", status_code=303)


async def _help(page: Page, status: int = 200, error: dict[str, str] | None = None) -> Response:
    actor = page.user()
    found: dict[str, Any] = {"items": []}
    try:
        found = await page.get("library", "/help", {"limit": 200})
    except ApiError as exc:
        error = error or _problem(page, exc)
    return page.render(
        "help.html",
        status=status,
        error=error,
        items=found["items"],
        actions=ACTIONS,
        is_volunteer=actor.role == "volunteer",
        done=page.request.query_params.get("done"),
    )


@router.get("/help", response_class=HTMLResponse)
async def help_requests(page: UserPage) -> Response:
    """A volunteer's open requests, or the help asked in the caller's units."""
    return await _help(page)


@router.post("/help/{case_id}/{verb}", response_class=HTMLResponse)
async def help_step(case_id: str, verb: str, page: UserPage, request: Request) -> Response:
    """Accept, decline, record or end help."""
    if verb not in STEPS:
        return page.render("problem.html", status=404, error=_problem(page, _missing()))
    raw = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    values = await form_of(request)
    body: dict[str, Any] = {}
    if verb == "record":
        hours = values.get("hours", "")
        body = {
            "hours": float(hours) if hours.replace(".", "", 1).isdigit() else 0,
            "actions": [a for a in raw.get("actions", []) if a],
            "note": values.get("note") or None,
        }
    elif verb == "decline":
        body = {"reason": values.get("reason") or None}
    try:
        await page.post("library", f"/help/{case_id}/{verb}", body, key=values.get("key") or None)
    except ApiError as exc:
        return await _help(page, status=exc.status, error=_problem(page, exc))
    return RedirectResponse(f"/help?done={verb}", status_code=303)


def _missing() -> ApiError:
    return ApiError(404, "Not found", "")
