"""HTTP routes of classroom sessions (以案说法课堂): record one, list a unit's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from contracts import library as lib
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Day, Moment
from services.common.commands import Opening, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.problems import Problem
from services.common.queries import Page, Skip, history_route, listing, row_to_read
from services.common.queries import case_view as view
from services.common.units import within
from services.library.domain.classroom import CLASSROOM_PREFIX

router = APIRouter(prefix="/classrooms", tags=["classrooms"])


class HoldBody(Body):
    """A classroom session as it took place."""

    unit: str = Field(min_length=1, max_length=256)
    held_on: Day
    place: str = lib.Short
    cases: list[str] = Field(min_length=1, max_length=20)
    attendance: list[lib.Attendance] = Field(min_length=1, max_length=10)
    recorded_at: Moment | None = None


def _held(ctx: ServiceContext, _case_id: str, body: HoldBody) -> lib.HoldClassroom:
    """Refuse a session that used a typical case not published on the unit's branch."""
    for case_id in body.cases:
        row = ctx.model.get(case_id) if case_id.startswith("TYP-") else None
        if row is None or row["status"] != "published" or not _branch(row["unit"], body.unit):
            raise Problem(
                422, "Unknown typical case", f"{case_id} is no published typical case here"
            )
    return lib.HoldClassroom(
        unit=body.unit,
        held_on=body.held_on,
        place=body.place,
        cases=tuple(body.cases),
        attendance=tuple(body.attendance),
    )


def _branch(case_unit: str, unit: str) -> bool:
    return within(unit, case_unit) or within(case_unit, unit)


command_routes(
    router,
    opening=Opening(
        name="hold_classroom",
        description="Record a classroom session: date, place, the typical cases used and the"
        " attendance by role.",
        command="hold",
        body=HoldBody,
        prefix=CLASSROOM_PREFIX,
        payload=_held,
        what="record classroom sessions",
        occurred_at="recorded_at",
    ),
    verbs=[],
    prefix=CLASSROOM_PREFIX,
)


@router.get("")
async def list_classrooms(
    ctx: Ctx, actor: CurrentActor, unit: str | None = None, limit: Page = 50, offset: Skip = 0
) -> dict[str, Any]:
    """List the classroom sessions of the caller's units, earliest first."""
    return listing(ctx, actor, unit, {"case_type": "classroom"}, limit, offset, order_by="held_on")


@router.get("/{case_id}")
async def get_classroom(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one classroom session."""
    return view(row_to_read(ctx, actor, case_id, prefix=CLASSROOM_PREFIX))


history_route(
    router,
    "classroom_history",
    "Return the classroom session's events as recorded.",
    prefix=CLASSROOM_PREFIX,
)
