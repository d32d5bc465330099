"""HTTP routes of 护薪 volunteers: the chair registers them; a roster without their names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from contracts import library as lib
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Moment, Transition
from services.common.commands import Opening, Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.ids import new_case_id
from services.common.queries import Page, Skip, case_view, history_route, listing, row_to_read
from services.common.units import within
from services.library.domain.volunteers import REGISTRARS, VOLUNTEER_PREFIX

router = APIRouter(prefix="/volunteers", tags=["volunteers"])
Language = Annotated[str, Field(min_length=1, max_length=40)]


class RegisterBody(Body):
    """A volunteer joining a team; name and phone are sealed under their own key."""

    unit: str = Field(min_length=1, max_length=256)
    team: str = lib.Short
    user_id: str = lib.UserId
    kind: lib.VolunteerKind
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, min_length=5, max_length=30)
    skills: list[lib.Skill] = Field(min_length=1, max_length=4)
    languages: list[Language] = Field(default=[], max_length=10)
    availability: str = lib.Short
    registered_at: Moment | None = None


class AvailabilityBody(Transition):
    availability: str = lib.Short


def volunteer_id_for(unit: str, user_id: str) -> str:
    """Return the id of a user's volunteer case in a unit: one registration each."""
    return new_case_id(VOLUNTEER_PREFIX, f"volunteer\x1f{unit}\x1f{user_id}")


def _registered(ctx: ServiceContext, _case_id: str, body: RegisterBody) -> lib.RegisterVolunteer:
    return lib.RegisterVolunteer(
        unit=body.unit,
        team=body.team,
        user_id=body.user_id,
        kind=body.kind,
        person=ctx.sealer.seal_person(body.name, body.phone),
        skills=tuple(body.skills),
        languages=tuple(body.languages),
        availability=body.availability,
    )


command_routes(
    router,
    opening=Opening(
        name="register_volunteer",
        description="Register a volunteer (union cadre, worker or lawyer) in one of the unit's"
        " teams.",
        command="register",
        body=RegisterBody,
        prefix=VOLUNTEER_PREFIX,
        payload=_registered,
        what="register volunteers",
        occurred_at="registered_at",
        case_id=lambda body: volunteer_id_for(body.unit, body.user_id),
    ),
    verbs=[
        Verb(
            "availability",
            "change_availability",
            "Change when the volunteer is available.",
            AvailabilityBody,
            lambda _ctx, _row, b: lib.ChangeAvailability(availability=b.availability),
            helpers=True,
        ),
        Verb(
            "retire",
            "retire",
            "The volunteer leaves the team.",
            Transition,
            lambda _ctx, _row, _b: lib.Retire(),
            optional=True,
        ),
    ],
    prefix=VOLUNTEER_PREFIX,
)


def volunteer_view(ctx: ServiceContext, actor: Actor, row: Any) -> dict[str, Any]:
    """A volunteer as the caller may see them: name and phone for the unit's chair only."""
    view = case_view(row)
    if actor.role in REGISTRARS and within(actor.unit, row["unit"]):
        event = ctx.model.history(row["case_id"])[0]["payload"]["person"]
        view["name"] = ctx.sealer.open(Sealed.model_validate(event["name"]))
        phone = event.get("phone")
        view["phone"] = ctx.sealer.open(Sealed.model_validate(phone)) if phone else None
    return view


@router.get("")
async def list_volunteers(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    kind: lib.VolunteerKind | None = None,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """The roster of the caller's units: teams, kinds, skills and availability, no names."""
    filters = {"case_type": "volunteer", "team": team, "kind": kind, "status": "active"}
    return listing(ctx, actor, unit, filters, limit, offset, order_by="team")


@router.get("/{case_id}")
async def get_volunteer(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one volunteer; their name and phone to the unit's chair."""
    row = row_to_read(ctx, actor, case_id, prefix=VOLUNTEER_PREFIX)
    return volunteer_view(ctx, actor, row)


history_route(
    router,
    "volunteer_history",
    "Return the volunteer's events as recorded (name and phone sealed).",
    prefix=VOLUNTEER_PREFIX,
)
