"""Development routes: the recording gateway, and what the local mailbox and gateway received."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from services.common.bearer import CurrentActor
from services.common.bodies import Body
from services.common.problems import Problem
from services.notify.local import Received

router = APIRouter(prefix="/dev", tags=["development"])


class GatewayText(Body):
    """One text as the SMS/WeCom gateway is given it."""

    channel: Literal["sms", "wecom"]
    to: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=500)
    id: str = Field(min_length=1, max_length=100)


def _received(request: Request) -> Received:
    received: Received | None = getattr(request.app.state, "received", None)
    if received is None:
        raise Problem(404, "Not found", "the local mailbox and gateway run in development only")
    return received


@router.post("/gateway/messages", status_code=202)
async def gateway_message(body: GatewayText, request: Request) -> dict[str, str]:
    """Take one text, as a real gateway would, and keep it to be seen."""
    _received(request).keep(body.channel, body.to, "", body.text, body.id)
    return {"accepted": body.id}


@router.get("/mailbox")
async def mailbox(request: Request, _actor: CurrentActor) -> dict[str, Any]:
    """The e-mails the local SMTP server received, newest first."""
    return {"items": _received(request).list("mail")}


@router.get("/gateway")
async def gateway(request: Request, _actor: CurrentActor) -> dict[str, Any]:
    """The texts the local gateway received, newest first."""
    received = _received(request)
    return {"items": received.list("sms") + received.list("wecom")}
