"""The signed-in actor of a request, read from its bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from contracts.envelope import Actor
from services.common.auth import Claims, TokenError, read_claims
from services.common.problems import Problem
from services.common.revocations import Revocations
from services.common.settings import Settings


def bearer_claims(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Claims:
    """Return what the request's bearer token says, once verified and not revoked."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Not signed in", "send Authorization: Bearer <token>")
    settings: Settings = request.app.state.settings
    try:
        claims = read_claims(settings, authorization[7:].strip())
    except TokenError as exc:
        raise Problem(401, "Not signed in", f"the token is not valid: {exc}") from exc
    revocations: Revocations = request.app.state.revocations
    refused = revocations.refused(claims)
    if refused is not None:
        raise Problem(401, "Not signed in", refused)
    return claims


def current_actor(claims: Annotated[Claims, Depends(bearer_claims)]) -> Actor:
    """Return the signed-in actor from the bearer token."""
    return claims.actor


CurrentClaims = Annotated[Claims, Depends(bearer_claims)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
