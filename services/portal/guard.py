"""Every form the portal takes is its own: a CSRF token bound to the browser, and its Origin."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from services.common.settings import Settings
from services.common.subkeys import subkey

CSRF_COOKIE = "tz_csrf"
CSRF_FIELD = "csrf"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class FormRefused(Exception):
    """A form sent from elsewhere, or without the token the portal gave this browser."""


def new_seed() -> str:
    """A fresh random value for a browser's CSRF cookie."""
    return secrets.token_hex(16)


def form_token(settings: Settings, seed: str) -> str:
    """The token a page puts in its forms: the cookie's value signed, so only we make it."""
    key = subkey(settings.jwt_secret, "csrf", settings.key_version)
    return hmac.new(key, seed.encode(), hashlib.sha256).hexdigest()


def same_origin(request: Request) -> bool:
    """Whether the request says it comes from a page of this site (or says nothing)."""
    origin = request.headers.get("origin")
    if origin is None:
        # Browsers send Origin with every form they post; the token still has to match.
        return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc == request.headers.get("host")


MULTIPART_TOKEN = re.compile(r'name="csrf"\r\n\r\n([^\r\n]{1,200})\r\n')


async def check_form(request: Request, settings: Settings) -> None:
    """Refuse a form that is not this site's: a foreign Origin, or a missing or wrong token."""
    if request.method not in UNSAFE:
        return
    if not same_origin(request):
        raise FormRefused("the form was sent from another site")
    seed = request.cookies.get(CSRF_COOKIE, "")
    body = (await request.body()).decode("utf-8", errors="replace")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # An upload: the token is the part named for it, which the page puts first.
        part = MULTIPART_TOKEN.search(body)
        sent = part.group(1) if part else ""
    else:
        sent = parse_qs(body, keep_blank_values=True).get(CSRF_FIELD, [""])[-1]
    if not seed or not hmac.compare_digest(sent, form_token(settings, seed)):
        raise FormRefused("the form's token is missing or is not this browser's")
