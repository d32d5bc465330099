"""HTTP routes of the library, a module per kind of case, and the reading rules they share."""

from __future__ import annotations

from typing import Any

from contracts.envelope import Actor
from services.common.auth import READ_ALL
from services.common.context import ServiceContext
from services.common.problems import Problem
from services.common.queries import no_admin
from services.common.units import within
from services.library.sources import Source, source_of


def on_branch(actor: Actor, unit: str) -> bool:
    """Return whether a unit lies above or below the actor's: the tree a library serves."""
    return actor.role in READ_ALL or within(actor.unit, unit) or within(unit, actor.unit)


def readable_row(ctx: ServiceContext, actor: Actor, case_id: str, prefix: str) -> Any:
    """Return a library case any signed-in role on its unit's branch may read, or 404."""
    no_admin(actor)
    row = ctx.model.get(case_id) if case_id.startswith(f"{prefix}-") else None
    if row is None or not on_branch(actor, row["unit"]):
        raise Problem(404, "Not found", f"no {ctx.resource[:-1]} {case_id} in your units")
    return row


def source(ctx: ServiceContext, case_id: str) -> Source | None:
    """Return what the library knows of a dispute or grievance, if anything."""
    rows = ctx.model.select("SELECT * FROM source_cases WHERE case_id = ?", (case_id,))
    return source_of(rows[0]) if rows else None
