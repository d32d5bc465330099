"""Sign-in with a demo user (development only), sign-out, the language switch, health."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.common import logging as logs
from services.common.auth import TokenError, issue_token
from services.common.settings import Settings
from services.portal.client import ApiError
from services.portal.i18n import LANGS
from services.portal.web import HOME, LANG_COOKIE, SESSION_COOKIE, AnyPage, form_of

router = APIRouter()
log = logs.get(__name__)
YEAR = 365 * 24 * 3600


def load_demo_users(settings: Settings) -> list[dict[str, str]]:
    """Read the demo users (one per role and unit) from their YAML file."""
    if not settings.demo_users_file.exists():
        return []
    data: Any = yaml.safe_load(settings.demo_users_file.read_text(encoding="utf-8"))
    return [{k: str(v) for k, v in user.items()} for user in data.get("users", [])]


def demo_sign_in_allowed(settings: Settings) -> bool:
    """Demo sign-in exists in development when asked for; elsewhere people sign in otherwise."""
    return settings.demo_sign_in_allowed


def safe_next(target: str | None) -> str:
    """Return the path to go back to: one on this site, never an address elsewhere."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return "/"
    # Browsers read a backslash as a slash: "/\\evil.com" is "//evil.com", another site.
    if "\\" in target or target.startswith("//") or not target.isprintable():
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@router.get("/health", include_in_schema=False)
async def health() -> JSONResponse:
    """Report that the portal answers (it runs no worker)."""
    return JSONResponse({"status": "ok", "worker": None})


@router.get("/", response_class=HTMLResponse)
async def home(page: AnyPage) -> Response:
    """Send the user to their role's first page, or to sign in."""
    if page.actor is None:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(HOME.get(page.actor.role, "/dashboard"), status_code=303)


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(page: AnyPage) -> Response:
    """List the demo users to sign in as."""
    settings = page.portal.settings
    allowed = demo_sign_in_allowed(settings)
    return page.render(
        "signin.html",
        status=200 if allowed else 403,
        users=page.portal.demo_users if allowed else [],
        refused=not allowed,
    )


@router.post("/signin")
async def signin(page: AnyPage, request: Request) -> Response:
    """Sign in as a demo user: mint the token the APIs check and keep it in a session cookie."""
    settings = page.portal.settings
    if not demo_sign_in_allowed(settings):
        return page.render("signin.html", status=403, users=[], refused=True)
    chosen = (await form_of(request)).get("user")
    user = next((u for u in page.portal.demo_users if u["id"] == chosen), None)
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    try:
        token = issue_token(settings, user=user["id"], role=user["role"], unit=user["unit"])
    except TokenError:
        return page.render("signin.html", status=403, users=[], refused=True)
    response = RedirectResponse(HOME.get(user["role"], "/dashboard"), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.token_ttl_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production",
    )
    return response


@router.post("/signout")
async def signout(page: AnyPage) -> Response:
    """Revoke the session's token for every service, and forget it."""
    if page.actor is not None:
        try:
            await page.api.sign_out(page.token)
        except ApiError as exc:
            # The cookie goes anyway; the token lapses at its expiry if it could not be revoked.
            log.warning("portal.signout_not_revoked", status=exc.status)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{lang}")
async def switch_language(lang: str, next: str | None = None) -> Response:
    """Switch the portal's language and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=YEAR, samesite="lax")
    return response
