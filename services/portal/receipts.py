"""The worker's page: follow one case with a receipt number and PIN; and a rep's new PIN."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.receipt_guard import ReceiptGuard
from services.common.receipts import kind_of, normalise
from services.portal.client import ApiError
from services.portal.i18n import LABELS, Words
from services.portal.web import AnyPage, Page, UserPage, form_of, friendly

router = APIRouter()
SERVICE = {"GRV": "intake", "DSP": "mediation"}
RESOURCE = {"GRV": "grievances", "DSP": "disputes"}
# A receipt slip rides to the case page in a cookie of that page alone, for a few minutes.
SLIP_COOKIE = "tz_slip"
SLIP_S = 300
# The portal is where the worker's browser is seen: it limits tries per browser itself.
GUARD = ReceiptGuard(per_client=20)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _form(page: Page, values: dict[str, str], error: dict[str, str] | None) -> Response:
    status = int(error.get("status", "422")) if error else 200
    return page.render("receipt.html", status=status, values=values, error=error, case=None)


@router.get("/receipt", response_class=HTMLResponse)
async def receipt_form(page: AnyPage) -> Response:
    """The worker's way in: the receipt number and the PIN from the SMS."""
    return _form(page, {}, None)


async def _shown(page: Page, values: dict[str, str], path: str, extra: dict[str, Any]) -> Any:
    """Ask the case's service, as the worker's browser, for what the receipt opens."""
    t = page.words
    number = normalise(values.get("receipt", ""))
    pin = values.get("pin", "")
    if number is None or not (pin.isdigit() and len(pin) == 6):
        raise ApiError(422, "Invalid receipt", t("receipt.wrong"))
    refused = GUARD.check_client(_client(page.request))
    if refused is not None:
        raise ApiError(429, "Too many tries", t("receipt.locked"))
    body = {"receipt": number, "pin": pin, **extra}
    service = SERVICE[kind_of(number)]
    return await page.api.public_post(
        service, path, body, _client(page.request), key=values.get("key") or None
    )


def said(words: Words, case: dict[str, Any] | None, done: str | None) -> dict[str, str]:
    """The sentences of the worker's page: the matter, the next step by when, what was sent."""
    if case is None:
        return {}
    step = f"next.{case['kind']}.{case['next']}"
    by = case.get("next_by")
    return {
        "kind": words(f"receipt.kind.{case['kind']}"),
        "next": words(step, date=words.date(by))
        if by and step in LABELS
        else words(f"{step}.undated"),
        "done": words(f"receipt.done.{done}") if done else "",
    }


def _error(page: Page, exc: ApiError) -> dict[str, str]:
    t = page.words
    if exc.status in (404, 422):
        return {"message": t("receipt.wrong"), "detail": "", "status": str(exc.status)}
    if exc.status == 429:
        return {"message": t("receipt.locked"), "detail": "", "status": "429"}
    return {**friendly(t, exc), "status": str(exc.status)}


@router.post("/receipt", response_class=HTMLResponse)
async def receipt_lookup(page: AnyPage, request: Request) -> Response:
    """Show the case the receipt opens, in plain words, or say the number or PIN is wrong."""
    values = await form_of(request)
    try:
        case = await _shown(page, values, "/receipts/lookup", {})
    except ApiError as exc:
        return _form(page, values, _error(page, exc))
    words = said(page.words, case, None)
    return page.render("receipt.html", values=values, error=None, case=case, done=None, said=words)


@router.post("/receipt/note", response_class=HTMLResponse)
async def receipt_note(page: AnyPage, request: Request) -> Response:
    """Pass on the worker's note, or that nobody called, then show the case again."""
    values = await form_of(request)
    kind = "not_contacted" if values.get("kind") == "not_contacted" else "note"
    extra: dict[str, Any] = {"kind": kind}
    if kind == "note":
        if not values.get("note"):
            return _form(page, values, {"message": page.words("receipt.note_empty"), "detail": ""})
        extra["note"] = values["note"][:1000]
    try:
        await _shown(page, values, "/receipts/notes", extra)
        case = await _shown(page, {**values, "key": ""}, "/receipts/lookup", {})
    except ApiError as exc:
        return _form(page, values, _error(page, exc))
    clean = {k: v for k, v in values.items() if k not in ("note", "key")}
    words = said(page.words, case, kind)
    return page.render("receipt.html", values=clean, error=None, case=case, done=kind, said=words)


@router.post("/grievances/{case_id}/receipt", response_class=HTMLResponse)
@router.post("/disputes/{case_id}/receipt", response_class=HTMLResponse)
async def reissue(case_id: str, page: UserPage, request: Request) -> Response:
    """Give the worker a new PIN, and show the slip on the case page."""
    values = await form_of(request)
    prefix = case_id.split("-", 1)[0]
    if prefix not in SERVICE:
        return page.render("problem.html", status=404, error=friendly(page.words, _missing()))
    path = f"/{RESOURCE[prefix]}/{case_id}/receipt"
    try:
        result = await page.post(SERVICE[prefix], path, {}, key=values.get("key") or None)
    except ApiError as exc:
        return page.render("problem.html", status=exc.status, error=friendly(page.words, exc))
    return with_slip(f"/{RESOURCE[prefix]}/{case_id}?done=receipt", case_id, result["receipt"])


def _missing() -> ApiError:
    return ApiError(404, "Not found", "")


def with_slip(location: str, case_id: str, slip: dict[str, Any]) -> Response:
    """Go to the case page carrying the slip the rep hands over, in a cookie only it reads."""
    response = RedirectResponse(location, status_code=303)
    path = location.split("?", 1)[0]
    value = json.dumps({"case_id": case_id, **slip}, ensure_ascii=True)
    response.set_cookie(
        SLIP_COOKIE, value, max_age=SLIP_S, path=path, httponly=True, samesite="strict"
    )
    return response


def slip_of(page: Page, case_id: str) -> dict[str, Any] | None:
    """Return the slip the page was sent with, if it is this case's."""
    raw = page.request.cookies.get(SLIP_COOKIE)
    if not raw:
        return None
    try:
        slip = json.loads(raw)
    except ValueError:
        return None
    return slip if isinstance(slip, dict) and slip.get("case_id") == case_id else None


def shown_once(response: Response, case_id: str, prefix: str) -> Response:
    """Forget the slip once the case page has shown it."""
    response.delete_cookie(SLIP_COOKIE, path=f"/{prefix}/{case_id}")
    return response
