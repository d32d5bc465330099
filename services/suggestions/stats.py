"""Statistics per unit and period: suggestions, adoption, vetoes, queries, and grievances."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from contracts.envelope import Envelope, format_ts
from contracts.grievance import GrievanceLogged
from contracts.registry import EventPayload
from services.common.asof import AsOf, fold_cases, instant
from services.common.auth import NO_CONTENT, can_see
from services.common.bearer import CurrentActor
from services.common.bodies import Day
from services.common.context import Ctx
from services.common.foreign import Foreign
from services.common.problems import Problem
from services.common.queries import check_period
from services.common.readmodel import ReadModel
from services.common.store import Db

router = APIRouter(tags=["statistics"])
Counts = dict[tuple[str, str | None, str | None, str | None], int]

# Grievances are counted from intake's events as they pass, never asked of intake.
SCHEMA = """
CREATE TABLE IF NOT EXISTS unit_grievances (
    case_id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    logged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS unit_grievances_unit ON unit_grievances (unit, logged_at);
CREATE TABLE IF NOT EXISTS unit_grievances_recorded (
    case_id TEXT PRIMARY KEY,
    recorded_at TEXT NOT NULL
);
"""


def count_grievance(db: Db, env: Envelope, payload: EventPayload) -> None:
    """Note each logged grievance's unit and time; every other grievance event is ignored."""
    if isinstance(payload, GrievanceLogged):
        db.execute(
            "INSERT INTO unit_grievances (case_id, unit, logged_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (env.case_id, payload.unit, format_ts(env.occurred_at)),
        )
        db.execute(
            "INSERT INTO unit_grievances_recorded (case_id, recorded_at) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING",
            (env.case_id, format_ts(env.recorded_at)),
        )


# A unit's grievances are counted from the events that log them alone.
GRIEVANCES = Foreign.reading(count_grievance, GrievanceLogged)


def _subtree(unit: str) -> tuple[str, list[Any]]:
    escaped = unit.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "(unit = ? OR unit LIKE ? ESCAPE '\\')", [unit, escaped + "/%"]


def _period(column: str, start: date | None, end: date | None) -> tuple[str, list[Any]]:
    clauses, args = [], []
    if start is not None:
        clauses.append(f"{column} >= ?")
        args.append(start.isoformat())
    if end is not None:
        clauses.append(f"{column} < ?")
        args.append((end + timedelta(days=1)).isoformat())
    return (" AND " + " AND ".join(clauses) if clauses else ""), args


def _counted(states: list[Any]) -> Counts:
    """Count past states by the fields the figures are made of, as the query of today does."""
    counts: Counts = {}
    for state in states:
        fields = state.model_dump(mode="json")
        key = (state.case_id[:3], fields.get("kind"), fields.get("outcome"), fields.get("status"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def statistics(
    model: ReadModel[Any],
    unit: str,
    start: date | None,
    end: date | None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Count a unit subtree's cases opened in the period (UTC dates, both ends included)."""
    where, args = _subtree(unit)
    period, period_args = _period("opened_at", start, end)
    if as_of is None:
        rows = model.select(
            "SELECT substr(case_id, 1, 3) AS prefix, json_extract(state, '$.kind') AS kind,"
            " json_extract(state, '$.outcome') AS outcome,"
            " json_extract(state, '$.status') AS status,"
            f" count(*) AS n FROM cases WHERE {where}{period} GROUP BY 1, 2, 3, 4",
            [*args, *period_args],
        )
        counts: Counts = {(r["prefix"], r["kind"], r["outcome"], r["status"]): r["n"] for r in rows}
    else:
        ids = model.select(
            f"SELECT case_id FROM cases WHERE {where}{period}", [*args, *period_args]
        )
        counts = _counted(fold_cases(model, [r["case_id"] for r in ids], as_of))

    def total(prefix: str, kind: str | None = None, **match: str) -> int:
        return sum(
            n
            for (p, k, o, st), n in counts.items()
            if p == prefix
            and (kind is None or k == kind)
            and all({"outcome": o, "status": st}[f] == v for f, v in match.items())
        )

    g_period, g_args = _period("logged_at", start, end)
    known = ""
    if as_of is not None:
        # Grievances noted before their recording time was kept count from their logging time.
        known = (
            " AND coalesce((SELECT recorded_at FROM unit_grievances_recorded r"
            " WHERE r.case_id = unit_grievances.case_id), logged_at) <= ?"
        )
        g_args = [*g_args, format_ts(as_of)]
    grievances = model.select(
        f"SELECT count(*) AS n FROM unit_grievances WHERE {where}{g_period}{known}",
        [*args, *g_args],
    )[0]["n"]
    adopted = total("SUG", "suggestion", outcome="adopted")
    rejected = total("SUG", "suggestion", outcome="rejected")
    decided = adopted + rejected
    return {
        "unit": unit,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "as_of": instant(as_of),
        "suggestions": total("SUG", "suggestion"),
        "adopted": adopted,
        "rejected": rejected,
        "no_quorum": total("SUG", "suggestion", outcome="no_quorum"),
        "implemented": total("SUG", "suggestion", status="implemented"),
        "adoption_rate": round(adopted / decided, 4) if decided else None,
        "proposals": total("SUG", "management_proposal"),
        "recommended": total("SUG", "management_proposal", outcome="recommended"),
        "vetoes": total("SUG", "management_proposal", outcome="vetoed"),
        "queries": total("QRY"),
        "queries_answer_accepted": total("QRY", status="answer_accepted"),
        "grievances": int(grievances),
    }


@router.get("/stats")
async def stats(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str | None = None,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Count suggestions, adoption, vetoes, queries and grievances of a unit subtree in a period.

    The adoption rate is adopted over decided (adopted or rejected) suggestions.
    """
    if actor.role in NO_CONTENT:
        raise Problem(403, "Forbidden", "administrators manage units, users and keys")
    unit = unit or actor.unit
    if ctx.units.get(unit) is None:
        raise Problem(422, "Unknown unit", f"there is no unit {unit!r}")
    if not can_see(actor, unit):
        raise Problem(404, "Not found", f"unit {unit} is not among your units")
    check_period(start, end)
    return statistics(ctx.model, unit, start, end, as_of)
