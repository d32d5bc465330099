"""Revoking access over HTTP: signing out a token, and an admin revoking a user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from services.common.bearer import CurrentClaims
from services.common.problems import Problem
from services.common.revocations import Revocations

router = APIRouter(tags=["access"])
UserId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\w.@:-]+$")]


def _revocations(request: Request) -> Revocations:
    found: Revocations = request.app.state.revocations
    return found


@router.post("/tokens/revoke", status_code=204)
async def sign_out(request: Request, claims: CurrentClaims) -> Response:
    """Revoke the token this request is sent with: every service refuses it within seconds."""
    await _revocations(request).sign_out(claims)
    return Response(status_code=204)


@router.post("/users/{user_id}/revoke", status_code=204)
async def revoke_user(request: Request, user_id: UserId, claims: CurrentClaims) -> Response:
    """Revoke every token a user holds now (admins only); a later sign-in works again."""
    if claims.actor.role != "admin":
        raise Problem(403, "Forbidden", "only an admin revokes another user's tokens")
    await _revocations(request).revoke_user(user_id, by=claims.actor.user_id)
    return Response(status_code=204)
