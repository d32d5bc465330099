"""What every page shares: the signed-in user, their language, forms, rendering and errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import httpx
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from contracts.envelope import Actor, now_utc
from services.common.auth import TokenError, read_claims
from services.common.calendar import local_date
from services.common.revocations import Revocations
from services.common.settings import Settings
from services.common.units import Units
from services.portal.client import Api, ApiError
from services.portal.guard import CSRF_COOKIE, form_token, new_seed
from services.portal.i18n import Words, lang_of

SESSION_COOKIE = "tz_session"
LANG_COOKIE = "tz_lang"
HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
HOME = {
    "worker_rep": "/grievances",
    "union_chair": "/grievances",
    "group_member": "/suggestions",
    "mediator": "/disputes",
    "followup_officer": "/followups",
    "auditor": "/audit",
    "admin": "/dashboard",
    "volunteer": "/help",
}
# Which pages each role finds in the menu.
MENU: dict[str, tuple[str, ...]] = {
    "worker_rep": (
        "grievances",
        "new_grievance",
        "suggestions",
        "library",
        "notifications",
        "dashboard",
    ),
    "union_chair": (
        "grievances",
        "new_grievance",
        "suggestions",
        "queries",
        "disputes",
        "notifications",
        "unit_notifications",
        "library",
        "volunteers",
        "dashboard",
        "import",
    ),
    "group_member": ("suggestions", "queries", "library", "notifications", "dashboard"),
    "mediator": ("disputes", "library", "volunteers", "notifications", "dashboard"),
    "followup_officer": ("followups", "library", "notifications", "dashboard"),
    "auditor": ("audit", "library", "unit_notifications", "dashboard"),
    "admin": ("dashboard",),
    "volunteer": ("help", "library"),
}
MENU_PATHS = {
    "grievances": "/grievances",
    "new_grievance": "/grievances/new",
    "suggestions": "/suggestions",
    "queries": "/queries",
    "disputes": "/disputes",
    "followups": "/followups",
    "audit": "/audit",
    "notifications": "/notifications",
    "unit_notifications": "/notifications/unit",
    "dashboard": "/dashboard",
    "import": "/import",
    "library": "/library",
    "volunteers": "/volunteers",
    "help": "/help",
}


class SignInNeeded(Exception):
    """The visitor has no valid session; they are sent to the sign-in page."""


@dataclass
class Portal:
    """What the portal needs, built once at start-up."""

    settings: Settings
    api: Api
    units: Units
    demo_users: list[dict[str, str]]
    # What is revoked, followed from the broker; None where the portal runs without one.
    revocations: Revocations | None = None


@dataclass
class Page:
    """One request's view of the portal: who, in which language, and what to render."""

    request: Request
    portal: Portal
    words: Words
    actor: Actor | None
    token: str
    # The browser's CSRF cookie, and whether this response is the first to give it.
    csrf_seed: str = ""
    fresh_seed: bool = False
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def api(self) -> Api:
        return self.portal.api

    def user(self) -> Actor:
        """Return the signed-in actor (pages behind sign-in only)."""
        if self.actor is None:
            raise SignInNeeded
        return self.actor

    async def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """Read from a service as the signed-in user."""
        return await self.api.get(self.token, service, path, params)

    async def download(
        self, service: str, path: str, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Fetch a file a service builds, as the signed-in user."""
        return await self.api.download(self.token, service, path, params)

    async def post(
        self, service: str, path: str, body: dict[str, Any], key: str | None = None
    ) -> Any:
        """Send a command as the signed-in user."""
        return await self.api.post(self.token, service, path, body, key)

    def unit_name(self, unit_id: str | None) -> str:
        """Return a unit's name in the page's language."""
        unit = self.portal.units.get(unit_id or "")
        if unit is None:
            return unit_id or "—"
        return unit.name_zh if self.words.lang == "zh" else unit.name_en

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render a page with the shared context."""
        actor = self.actor
        menu = [(MENU_PATHS[m], f"nav.{m}") for m in MENU.get(actor.role, ())] if actor else []
        response = TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "t": self.words,
                "lang": self.words.lang,
                "actor": actor,
                "menu": menu,
                "path": self.request.url.path,
                "full_path": str(self.request.url.path)
                + (f"?{self.request.url.query}" if self.request.url.query else ""),
                "unit_name": self.unit_name,
                "new_key": lambda: str(uuid.uuid4()),
                "csrf": form_token(self.portal.settings, self.csrf_seed),
                **context,
            },
            status_code=status,
        )
        if self.fresh_seed:
            response.set_cookie(
                CSRF_COOKIE,
                self.csrf_seed,
                httponly=True,
                samesite="strict",
                secure=self.portal.settings.environment == "production",
            )
        return response


def portal(request: Request) -> Portal:
    """Return the portal's start-up context."""
    value: Portal = request.app.state.portal
    return value


def page(request: Request) -> Page:
    """Build the request's page: language from its cookie, user from the session cookie."""
    ctx = portal(request)
    words = Words(lang_of(request.cookies.get(LANG_COOKIE)))
    token = request.cookies.get(SESSION_COOKIE, "")
    actor = None
    if token:
        try:
            claims = read_claims(ctx.settings, token)
        except TokenError:
            claims = None
        if claims is not None and not (ctx.revocations and ctx.revocations.refused(claims)):
            actor = claims.actor
    seed = request.cookies.get(CSRF_COOKIE, "")
    fresh = not (0 < len(seed) <= 64 and seed.isalnum())
    return Page(
        request=request,
        portal=ctx,
        words=words,
        actor=actor,
        token=token,
        csrf_seed=new_seed() if fresh else seed,
        fresh_seed=fresh,
    )


def signed_in(request: Request) -> Page:
    """Build the page of a signed-in user, or send the visitor to sign in."""
    current = page(request)
    current.user()
    return current


AnyPage = Annotated[Page, Depends(page)]
UserPage = Annotated[Page, Depends(signed_in)]


async def form_of(request: Request) -> dict[str, str]:
    """Read an urlencoded form (the portal's forms carry no files), stripped of blanks."""
    body = (await request.body()).decode("utf-8", errors="replace")
    fields = parse_qs(body, keep_blank_values=True)
    return {k: v[-1].strip() for k, v in fields.items()}


def friendly(words: Words, error: ApiError) -> dict[str, str]:
    """Put an API refusal in words a rep understands, keeping the service's reason when useful."""
    known = (401, 403, 404, 409, 413, 422, 429, 503)
    message = words(f"error.{error.status}") if error.status in known else words("error.other")
    show_detail = error.status in (403, 409, 422) and error.detail
    return {"message": message, "detail": error.detail if show_detail else ""}


def today() -> date:
    """Return today's date in China."""
    return local_date(now_utc())


def days_until(value: str | None) -> int | None:
    """Return whole days from today (China) to a date; negative once it has passed."""
    if not value:
        return None
    return (date.fromisoformat(value[:10]) - today()).days


def horizon(days: int) -> str:
    """Return the date `days` from today, ISO formatted."""
    return (today() + timedelta(days=days)).isoformat()
