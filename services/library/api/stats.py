"""The library's dashboard figures for one unit over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.common.bearer import CurrentActor
from services.common.context import Ctx
from services.common.queries import report_unit
from services.library.domain.stats import dashboard

router = APIRouter(tags=["statistics"])


@router.get("/stats")
async def library_stats(ctx: Ctx, actor: CurrentActor, unit: str | None = None) -> dict[str, Any]:
    """Sessions and attendees, teams and volunteers, help given, hours and wages recovered."""
    unit = report_unit(ctx, actor, unit, known=True)
    cases = ctx.model.states(units=[unit], filters={})
    recovered = {
        r["case_id"]: int(r["agreed_fen"])
        for r in ctx.model.select(
            "SELECT case_id, agreed_fen FROM source_cases WHERE performed = 1"
            " AND case_id IN (SELECT json_extract(state, '$.source_case_id') FROM cases"
            " WHERE case_id LIKE 'HLP-%')"
        )
    }
    return {"unit": unit, **dashboard(cases, recovered)}
