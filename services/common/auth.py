"""Bearer tokens (signed JWT) carrying user id, role and unit, and the unit-scope check."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import get_args

import jwt

from contracts.envelope import Actor, Role, now_utc
from services.common.settings import DEFAULT_SECRET, Settings
from services.common.subkeys import subkey
from services.common.units import within

ALGORITHM = "HS256"
HUMAN_ROLES = tuple(r for r in get_args(Role) if r != "system")
READ_ALL = ("auditor",)
NO_CONTENT = ("admin",)
# Volunteers see only the cases they are asked to help with, where a service admits them.
HELPERS = ("volunteer",)
VERIFIED_TOKENS = 4096


class TokenError(Exception):
    """The token is missing, forged, expired or malformed."""


@dataclass(frozen=True)
class Claims:
    """What a verified token says: who, and which token (for revoking it)."""

    actor: Actor
    token_id: str
    issued_at: int
    expires_at: int


def _kid(version: int) -> str:
    return f"tokens/v{version}"


def _key(secret: str, current: int, kid: object) -> bytes:
    """The signing key a token names: this version's or the one before, while rotating."""
    for version in (current, current - 1):
        if version >= 1 and kid == _kid(version):
            return _signing_key(secret, version)
    raise TokenError(f"the token's key {kid!r} is not one this ledger signs with")


@functools.lru_cache(maxsize=8)
def _signing_key(secret: str, version: int) -> bytes:
    """The key tokens of a version are signed with, derived once."""
    return subkey(secret, "tokens", version)


def issue_token(
    settings: Settings,
    *,
    user: str,
    role: str,
    unit: str,
    hours: int | None = None,
    audience: str | None = None,
) -> str:
    """Sign a token; refused with the default secret outside development."""
    if settings.environment != "development" and settings.jwt_secret == DEFAULT_SECRET:
        raise TokenError("set TAIZHANG_JWT_SECRET: the default secret is for development only")
    if role not in HUMAN_ROLES:
        raise TokenError(f"unknown role {role!r}; one of {', '.join(HUMAN_ROLES)}")
    lifetime = hours or settings.token_ttl_hours
    if not 0 < lifetime <= settings.token_max_hours:
        raise TokenError(f"a token lives {settings.token_max_hours} hours at most")
    now = now_utc()
    claims = {
        "iss": settings.token_issuer,
        "aud": audience or settings.token_audience,
        "sub": user,
        "role": role,
        "unit": unit,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=lifetime)).timestamp()),
    }
    kid = _kid(settings.key_version)
    key = _key(settings.jwt_secret, settings.key_version, kid)
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


def read_claims(settings: Settings, token: str) -> Claims:
    """Verify a token (key, issuer, audience, lifetime) and return what it says."""
    claims = _verified(
        token,
        settings.jwt_secret,
        settings.key_version,
        settings.token_audience,
        settings.token_issuer,
        settings.token_max_hours,
    )
    # A token verified before is believed until it expires, checked on every use.
    if claims.expires_at <= now_utc().timestamp():
        raise TokenError("Signature has expired")
    return claims


# A request's limits and its route, and a client's next requests, check one signature once;
# a token that does not verify is not remembered, and the memory is bounded.
@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(
    token: str, secret: str, version: int, audience: str, issuer: str, max_hours: int
) -> Claims:
    """Verify a token's signature, issuer, audience and lifetime; return what it says."""
    try:
        key = _key(secret, version, jwt.get_unverified_header(token).get("kid"))
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
        )
        issued, expires = int(claims["iat"]), int(claims["exp"])
        if expires - issued > max_hours * 3600:
            raise TokenError(f"the token lives longer than {max_hours} hours")
        actor = Actor(user_id=claims["sub"], role=claims["role"], unit=claims["unit"])
        return Claims(
            actor=actor, token_id=str(claims["jti"]), issued_at=issued, expires_at=expires
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise TokenError(str(exc)) from exc


def read_token(settings: Settings, token: str) -> Actor:
    """Verify a token and return the actor it names."""
    return read_claims(settings, token).actor


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
