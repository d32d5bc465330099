"""Pages of a follow-up officer: their queue by due date, overdue first, and call-backs.

The follow-up service (`GET /followups?owner=&overdue=`, `POST /followups/{id}/contact`) is
called when it runs; until then the page says so in plain words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.client import ApiError
from services.portal.web import UserPage, form_of, friendly

router = APIRouter()
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")


def by_urgency(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overdue follow-ups first, then the rest, each by due date."""
    return sorted(items, key=lambda f: (not f.get("overdue"), str(f.get("due") or "9999")))


@router.get("/followups", response_class=HTMLResponse)
async def queue(page: UserPage) -> Response:
    """The officer's follow-ups, overdue first."""
    actor = page.user()
    items: list[dict[str, Any]] = []
    unavailable = False
    error = None
    try:
        items = (await page.get("followup", "/followups", {"owner": actor.user_id}))["items"]
    except ApiError as exc:
        unavailable = exc.status in (404, 503)
        error = None if unavailable else friendly(page.words, exc)
    return page.render(
        "followups.html",
        items=by_urgency(items),
        unavailable=unavailable,
        error=error,
        satisfaction=SATISFACTION,
    )


@router.post("/followups/{case_id}/contact", response_class=HTMLResponse)
async def contact(case_id: str, page: UserPage, request: Request) -> Response:
    """Record a satisfaction call-back."""
    values = await form_of(request)
    body = {"satisfaction": values.get("satisfaction", ""), "comment": values.get("comment", "")}
    try:
        await page.post(
            "followup", f"/followups/{case_id}/contact", body, key=values.get("key") or None
        )
    except ApiError as exc:
        return page.render(
            "followups.html",
            status=exc.status,
            items=[],
            unavailable=False,
            error=friendly(page.words, exc),
            satisfaction=SATISFACTION,
        )
    return RedirectResponse("/followups?done=contact", status_code=303)
