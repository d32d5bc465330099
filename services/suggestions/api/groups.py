"""HTTP routes of democratic-management groups (民主管理小组): one per unit, as elected."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from contracts import suggestion as s
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Moment, Transition
from services.common.commands import Opening, Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.ids import new_case_id
from services.common.queries import (
    Page,
    Skip,
    case_view,
    history_route,
    listing,
    row_to_read,
    sealing_key,
)
from services.common.units import Units
from services.suggestions.api import UserId
from services.suggestions.domain import GROUP_PREFIX

router = APIRouter(prefix="/groups", tags=["groups"])
DEFAULT_GROUP_SIZE = (5, 7)


def group_id_for(unit: str) -> str:
    """Return the id of a unit's group: one group per unit, found without a search."""
    return new_case_id(GROUP_PREFIX, f"group\x1f{unit}")


def group_size(units: Units, unit_id: str) -> tuple[int, int]:
    """Return the nearest group-size bounds up the unit tree, or 5–7."""
    parts = unit_id.split("/")
    for i in range(len(parts), 0, -1):
        unit = units.get("/".join(parts[:i]))
        if unit and unit.group_size:
            return unit.group_size
    return DEFAULT_GROUP_SIZE


class FormBody(Body):
    """A group as the workers' congress elected it."""

    unit: str = Field(min_length=1, max_length=256)
    members: list[Annotated[str, UserId]] = Field(min_length=1, max_length=50)
    leader: str = UserId
    congress_session: str = Field(min_length=1, max_length=200)
    formed_at: Moment | None = None


class ReplaceBody(Transition):
    outgoing: str = UserId
    incoming: str = UserId
    leader: str | None = Field(default=None, min_length=1, max_length=128)
    congress_session: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


def _formed(ctx: ServiceContext, _case_id: str, body: FormBody) -> s.FormGroup:
    """Bound the group's size by the unit's rule."""
    low, high = group_size(ctx.units, body.unit)
    return s.FormGroup(
        unit=body.unit,
        members=body.members,
        leader=body.leader,
        congress_session=body.congress_session,
        min_size=low,
        max_size=high,
    )


def _replaced(ctx: ServiceContext, row: Any, body: ReplaceBody) -> s.ReplaceMember:
    """Seal the reason under the group's key: it may speak of the member who leaves."""
    return s.ReplaceMember(
        outgoing=body.outgoing,
        incoming=body.incoming,
        leader=body.leader,
        congress_session=body.congress_session,
        reason=ctx.sealer.seal(sealing_key(row), body.reason) if body.reason else None,
    )


command_routes(
    router,
    opening=Opening(
        name="form_group",
        description="Record a unit's democratic-management group, elected by the workers'"
        " congress.",
        command="form",
        body=FormBody,
        prefix=GROUP_PREFIX,
        payload=_formed,
        what="record groups",
        occurred_at="formed_at",
        case_id=lambda body: group_id_for(body.unit),
    ),
    verbs=[
        Verb(
            "replace-member",
            "replace_member",
            "Replace a member; reviews under way hand the outgoing member's seat to the incoming"
            " one.",
            ReplaceBody,
            _replaced,
        ),
    ],
    prefix=GROUP_PREFIX,
)


@router.get("")
async def list_groups(
    ctx: Ctx, actor: CurrentActor, unit: str | None = None, limit: Page = 50, offset: Skip = 0
) -> dict[str, Any]:
    """List the groups in the caller's units."""
    return listing(ctx, actor, unit, {"case_type": "group"}, limit, offset)


@router.get("/{case_id}")
async def get_group(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return a group with who sat when."""
    return case_view(row_to_read(ctx, actor, case_id, prefix=GROUP_PREFIX))


history_route(
    router,
    "group_history",
    "Return the group's events, oldest first, as recorded; `opened` gives a reason as text.",
    prefix=GROUP_PREFIX,
    texts=("reason",),
)
