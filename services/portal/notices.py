"""Pages of notifications: each user's list and settings, a chair's view, the local outbox.

Messages are planned and sent by the notification service; here a user sees theirs, marks
them seen (`POST /notifications/{id}/acknowledge`) and chooses channels and quiet hours.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.client import ApiError
from services.portal.web import Page, UserPage, form_of, friendly

router = APIRouter()
CHANNELS = ("email", "sms", "wecom")
STATUSES = ("planned", "sent", "acknowledged", "failed", "cancelled")
DONE = {"settings": "notices.saved", "acknowledge": "notices.acknowledged"}


async def _render(page: Page, status: int = 200, error: dict[str, str] | None = None) -> Response:
    items: list[dict[str, Any]] = []
    prefs: dict[str, Any] = {}
    unavailable = False
    try:
        items = (await page.get("notify", "/notifications", {"limit": 100}))["items"]
        prefs = await page.get("notify", "/preferences/me")
    except ApiError as exc:
        unavailable = exc.status == 503
        error = error or (None if unavailable else friendly(page.words, exc))
    return page.render(
        "notifications.html",
        status=status,
        items=items,
        prefs=prefs,
        channels=CHANNELS,
        unavailable=unavailable,
        error=error,
        development=page.portal.settings.environment != "production",
        done_label=DONE.get(page.request.query_params.get("done") or ""),
    )


@router.get("/notifications", response_class=HTMLResponse)
async def mine(page: UserPage) -> Response:
    """The signed-in user's messages, newest first, and their settings."""
    return await _render(page)


@router.post("/notifications/settings", response_class=HTMLResponse)
async def settings(page: UserPage, request: Request) -> Response:
    """Save the channels, quiet hours and language chosen."""
    fields = await form_of(request)
    raw = await request.body()
    chosen = [c for c in CHANNELS if f"channel={c}".encode() in raw] or ["email"]
    body = {
        "channels": chosen,
        "quiet_from": _hour(fields.get("quiet_from"), 22),
        "quiet_to": _hour(fields.get("quiet_to"), 8),
        "language": fields.get("language") or "zh",
    }
    try:
        await page.api.put(page.token, "notify", "/preferences/me", body, fields.get("key") or None)
    except ApiError as exc:
        return await _render(page, status=exc.status, error=friendly(page.words, exc))
    return RedirectResponse("/notifications?done=settings", status_code=303)


@router.post("/notifications/{case_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(case_id: str, page: UserPage, request: Request) -> Response:
    """Mark one message as seen."""
    fields = await form_of(request)
    try:
        await page.post("notify", f"/notifications/{case_id}/acknowledge", {}, fields.get("key"))
    except ApiError as exc:
        return await _render(page, status=exc.status, error=friendly(page.words, exc))
    return RedirectResponse("/notifications?done=acknowledge", status_code=303)


@router.get("/notifications/unit", response_class=HTMLResponse)
async def unit(page: UserPage) -> Response:
    """A chair's view: the reminders of the unit, sent, seen, failed or cancelled."""
    found: dict[str, Any] = {"items": [], "counts": {}}
    error = None
    try:
        found = await page.get("notify", "/notifications/unit", {"limit": 200})
    except ApiError as exc:
        error = friendly(page.words, exc)
    return page.render(
        "notifications_unit.html",
        items=found["items"],
        counts=found.get("counts", {}),
        statuses=STATUSES,
        error=error,
    )


@router.get("/notifications/outbox", response_class=HTMLResponse)
async def outbox(page: UserPage) -> Response:
    """In development: what the local mailbox and gateway received."""
    mails: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    error = None
    try:
        mails = (await page.get("notify", "/dev/mailbox"))["items"]
        texts = (await page.get("notify", "/dev/gateway"))["items"]
    except ApiError as exc:
        error = friendly(page.words, exc)
    return page.render("outbox.html", mails=mails, texts=texts, error=error)


def _hour(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return -1  # the service refuses it, saying which hours it takes
