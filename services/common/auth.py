"""Bearer tokens (signed JWT) carrying user id, role and unit, and the unit-scope check."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import jwt

from contracts.envelope import Actor, Role, now_utc
from services.common.settings import DEFAULT_SECRET, Settings
from services.common.units import within

ALGORITHM = "HS256"
HUMAN_ROLES = tuple(r for r in get_args(Role) if r != "system")
READ_ALL = ("auditor",)
NO_CONTENT = ("admin",)
# Volunteers see only the cases they are asked to help with, where a service admits them.
HELPERS = ("volunteer",)


class TokenError(Exception):
    """The token is missing, forged, expired or malformed."""


def issue_token(
    settings: Settings, *, user: str, role: str, unit: str, hours: int | None = None
) -> str:
    """Sign a token; refused with the default secret outside development."""
    if settings.environment != "development" and settings.jwt_secret == DEFAULT_SECRET:
        raise TokenError("set TAIZHANG_JWT_SECRET: the default secret is for development only")
    if role not in HUMAN_ROLES:
        raise TokenError(f"unknown role {role!r}; one of {', '.join(HUMAN_ROLES)}")
    now = now_utc()
    claims = {
        "sub": user,
        "role": role,
        "unit": unit,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=hours or settings.token_ttl_hours)).timestamp()),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def read_token(settings: Settings, token: str) -> Actor:
    """Verify a token and return the actor it names."""
    try:
        claims = jwt.decode(
            token, settings.jwt_secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return Actor(user_id=claims["sub"], role=claims["role"], unit=claims["unit"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise TokenError(str(exc)) from exc


def can_see(actor: Actor, unit: str, *, helpers: bool = False) -> bool:
    """Return whether the actor may see cases of `unit`; volunteers only where `helpers`."""
    if actor.role in HELPERS and not helpers:
        return False
    return actor.role in READ_ALL or within(actor.unit, unit)


def can_act(actor: Actor, unit: str, *, helpers: bool = False) -> bool:
    """Return whether the actor may change cases of `unit`; volunteers only where `helpers`."""
    if actor.role in HELPERS and not helpers:
        return False
    return actor.role not in (*READ_ALL, *NO_CONTENT) and within(actor.unit, unit)
