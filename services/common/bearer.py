"""The signed-in actor of a request, read from its bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from contracts.envelope import Actor
from services.common.auth import TokenError, read_token
from services.common.problems import Problem
from services.common.settings import Settings


def current_actor(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    """Return the signed-in actor from the bearer token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Not signed in", "send Authorization: Bearer <token>")
    settings: Settings = request.app.state.settings
    try:
        return read_token(settings, authorization[7:].strip())
    except TokenError as exc:
        raise Problem(401, "Not signed in", f"the token is not valid: {exc}") from exc


CurrentActor = Annotated[Actor, Depends(current_actor)]
