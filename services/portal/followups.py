"""Pages of a follow-up officer: the unit's open follow-ups by due date, overdue first.

Call-backs are recorded with `POST /followups/{id}/contact` and progress with `/progress`;
the follow-up service closes or reopens the grievance from the worker's answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.client import ApiError
from services.portal.web import Page, UserPage, form_of, friendly

router = APIRouter()
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
OPEN = ("open", "in_progress")
VIEWS = {
    "all": "followups.view_all",
    "mine": "followups.view_mine",
    "overdue": "followups.view_overdue",
}
DONE = {"contact": "followups.done_contact", "progress": "followups.done_progress"}


def by_urgency(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overdue follow-ups first, then the rest, each by due date."""
    return sorted(items, key=lambda f: (not f.get("overdue"), str(f.get("due") or "9999")))


def filters(view: str, user_id: str) -> dict[str, Any]:
    """The follow-up service's filters for one view of the queue."""
    if view == "mine":
        return {"owner": user_id}
    if view == "overdue":
        return {"overdue": "true"}
    return {}


async def _queue(page: Page, view: str) -> list[dict[str, Any]]:
    """The open follow-ups of a view, as the follow-up service lists them."""
    wanted = filters(view, page.user().user_id)
    items: list[dict[str, Any]] = []
    for status in OPEN:
        found = await page.get("followup", "/followups", {**wanted, "status": status, "limit": 200})
        items += found["items"]
    return by_urgency(items)


async def _render(
    page: Page, view: str, status: int = 200, error: dict[str, str] | None = None
) -> Response:
    items: list[dict[str, Any]] = []
    unavailable = False
    try:
        items = await _queue(page, view)
    except ApiError as exc:
        unavailable = exc.status == 503
        error = error or (None if unavailable else friendly(page.words, exc))
    return page.render(
        "followups.html",
        status=status,
        items=items,
        view=view,
        views=VIEWS,
        unavailable=unavailable,
        error=error,
        done_label=DONE.get(page.request.query_params.get("done") or ""),
        satisfaction=SATISFACTION,
    )


@router.get("/followups", response_class=HTMLResponse)
async def queue(page: UserPage, view: str = "all") -> Response:
    """The officer's follow-ups, overdue first; all of the unit's, their own, or the overdue."""
    return await _render(page, view if view in VIEWS else "all")


async def _send(page: Page, case_id: str, action: str, body: dict[str, Any], key: str) -> Response:
    try:
        await page.post("followup", f"/followups/{case_id}/{action}", body, key=key or None)
    except ApiError as exc:
        error = friendly(page.words, exc)
        if exc.status == 503:
            error = {"message": page.words("followups.unavailable"), "detail": ""}
        return await _render(page, "all", status=exc.status, error=error)
    return RedirectResponse(f"/followups?done={action}", status_code=303)


@router.post("/followups/{case_id}/contact", response_class=HTMLResponse)
async def contact(case_id: str, page: UserPage, request: Request) -> Response:
    """Record a call-back: how satisfied the worker is, and their words."""
    values = await form_of(request)
    body = {
        "satisfaction": values.get("satisfaction", ""),
        "comment": values.get("comment") or None,
    }
    return await _send(page, case_id, "contact", body, values.get("key", ""))


@router.post("/followups/{case_id}/progress", response_class=HTMLResponse)
async def progress(case_id: str, page: UserPage, request: Request) -> Response:
    """Note how a tracked matter stands."""
    values = await form_of(request)
    body = {"note": values.get("note", "")}
    return await _send(page, case_id, "progress", body, values.get("key", ""))
