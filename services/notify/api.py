"""HTTP routes of notifications: each user's list and settings, a chair's view of the unit."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts import notification as n
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Transition
from services.common.commands import IdempotencyKey, Verb, command_routes, submit
from services.common.context import Ctx
from services.common.ids import keyed, new_case_id
from services.common.problems import Problem
from services.common.queries import (
    Page,
    Skip,
    case_view,
    history_route,
    listing,
    no_admin,
    row_to_read,
)
from services.notify.domain import PREFERENCES_PREFIX, Status

router = APIRouter(prefix="/notifications", tags=["notifications"])
preferences_router = APIRouter(prefix="/preferences", tags=["preferences"])
CHAIR_ROLES = ("union_chair", "auditor")


class AcknowledgeBody(Transition):
    """Say the message was seen."""


class PreferencesBody(Body):
    """Which channels to be told on, in order of choice; quiet hours in local time."""

    channels: tuple[n.Channel, ...] = Field(min_length=1, max_length=3)
    quiet_from: int = Field(default=22, ge=0, le=23)
    quiet_to: int = Field(default=8, ge=0, le=23)
    language: n.Language = "zh"


def preferences_id(user_id: str) -> str:
    """The id of a user's preferences, derived from the user."""
    return new_case_id(PREFERENCES_PREFIX, f"preferences:{user_id}")


def view(row: Any) -> dict[str, Any]:
    """A notification as listed: its sealed address left out."""
    out = case_view(row)
    out.pop("address", None)
    return out


command_routes(
    router,
    verbs=[
        Verb(
            "acknowledge",
            "acknowledge",
            "Say you have seen the message (its recipient only).",
            AcknowledgeBody,
            lambda _ctx, _row, _b: n.Acknowledge(),
            optional=True,
        )
    ],
    prefix="NTF",
)


@router.get("")
async def my_notifications(
    ctx: Ctx, actor: CurrentActor, status: Status | None = None, limit: Page = 50, offset: Skip = 0
) -> dict[str, Any]:
    """List the messages sent or planned for the caller, newest first."""
    filters = {"recipient": actor.user_id, "status": status}
    return listing(ctx, actor, None, filters, limit, offset, view=view)


@router.get("/unit")
async def unit_reminders(
    ctx: Ctx, actor: CurrentActor, unit: str | None = None, limit: Page = 100, offset: Skip = 0
) -> dict[str, Any]:
    """A chair's view: the reminders of the unit's staff, with counts sent and acknowledged."""
    if actor.role not in CHAIR_ROLES:
        raise Problem(403, "Forbidden", "only a union chair or an auditor sees a unit's reminders")
    page = listing(ctx, actor, unit, {"audience": "staff"}, limit, offset, view=view)
    states = ctx.model.states(units=[unit or actor.unit], filters={"audience": "staff"})
    page["counts"] = dict(Counter(s.status for s in states))
    return page


@router.get("/{case_id}")
async def get_notification(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one message as it stands (its recipient, or anyone over its unit)."""
    return view(row_to_read(ctx, actor, case_id, prefix="NTF"))


history_route(router, "notification_history", "Return the message's events, oldest first.")


@preferences_router.get("/me")
async def my_preferences(ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return the caller's notification settings (the defaults until they choose)."""
    no_admin(actor)
    row = ctx.model.get(preferences_id(actor.user_id))
    if row is None:
        return {
            "user": actor.user_id,
            "channels": ["email"],
            "quiet_from": 22,
            "quiet_to": 8,
            "language": "zh",
            "version": 0,
        }
    return case_view(row)


@preferences_router.put("/me")
async def set_preferences(
    body: PreferencesBody, ctx: Ctx, actor: CurrentActor, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Choose the channels you are told on, your quiet hours and language."""
    no_admin(actor)
    case_id = preferences_id(actor.user_id)
    return await submit(
        ctx,
        actor,
        command_type="set_preferences",
        case_id=case_id,
        key=keyed(actor, f"preferences/{case_id}", idempotency_key),
        payload=n.SetPreferences(**body.model_dump()),
        request_body=body.model_dump(mode="json"),
    )
