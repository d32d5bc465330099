"""Reading cases: who may see which, how a row becomes a view, listings and histories."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from contracts.catalog import CASE_TYPES
from contracts.envelope import Actor, format_ts
from contracts.personal import Sealed
from services.common.auth import HELPERS, NO_CONTENT, READ_ALL, can_act, can_see
from services.common.bearer import CurrentActor
from services.common.calendar import end_of_day, shifted
from services.common.context import Ctx, ServiceContext
from services.common.problems import Problem
from services.common.vault import Sealer

# Paging past this many cases is a search, not a listing.
MAX_OFFSET = 10_000_000
Page = Annotated[int, Query(ge=1, le=200)]
Skip = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
# Refuses the history of a case (by raising a Problem) given the caller and the case's row.
Guard = Callable[[Actor, Any], None]


def check_period(
    first: date | None, last: date | None, names: tuple[str, str] = ("from", "to")
) -> None:
    """Refuse a period that ends before it starts, naming the two parameters."""
    if first is not None and last is not None and last < first:
        start, end = names
        raise Problem(
            422, "Invalid period", f"{end} ({last}) is before {start} ({first}); swap them"
        )


def period(
    first: date | None, last: date | None, names: tuple[str, str] = ("from", "to")
) -> dict[str, str | None]:
    """Turn inclusive local dates (China) into the read model's UTC opened-at bounds."""
    check_period(first, last, names)
    return {
        "opened_from": format_ts(end_of_day(shifted(first, -1))) if first else None,
        "opened_to": format_ts(end_of_day(last)) if last else None,
    }


def case_row_for(
    ctx: ServiceContext,
    actor: Actor,
    case_id: str,
    *,
    acting: bool,
    prefix: str | None = None,
    helpers: bool = False,
) -> Any:
    """Return a case the actor may see (404 otherwise), and refuse changes they may not make.

    With `prefix`, only a case of that kind is found, for streams that carry several kinds;
    with `helpers`, volunteers reach it too, and the case's rules say which of them may.
    """
    if prefix is not None and not case_id.startswith(f"{prefix}-"):
        raise Problem(404, "Not found", f"no {CASE_TYPES[prefix].noun} {case_id} in your units")
    row = ctx.model.get(case_id) if ctx.kind.owns(case_id) else None
    if row is None or not can_see(actor, row["unit"], helpers=helpers):
        raise Problem(404, "Not found", f"no {ctx.resource[:-1]} {case_id} in your units")
    if acting and not can_act(actor, row["unit"], helpers=helpers):
        raise Problem(403, "Forbidden", f"a {actor.role} reads cases but cannot change them")
    return row


def row_to_read(
    ctx: ServiceContext, actor: Actor, case_id: str, *, prefix: str | None = None
) -> Any:
    """Return a case the actor may read: never to administrators, only within their units."""
    no_admin(actor)
    return case_row_for(ctx, actor, case_id, acting=False, prefix=prefix)


def no_admin(actor: Actor) -> None:
    """Refuse case content to administrators."""
    if actor.role in NO_CONTENT:
        raise Problem(
            403, "Forbidden", "administrators manage units, users and keys, not case content"
        )


def check_unit(ctx: ServiceContext, actor: Actor, unit: str, what: str) -> None:
    """Refuse an unknown unit (422) or one outside the actor's reach (403)."""
    if ctx.units.get(unit) is None:
        raise Problem(422, "Unknown unit", f"there is no unit {unit!r}")
    if not can_act(actor, unit):
        raise Problem(403, "Forbidden", f"you cannot {what} for {unit}")


def list_scope(actor: Actor, unit: str | None) -> list[str] | None:
    """Return the unit subtrees a listing covers (None: all, for auditors)."""
    if actor.role in HELPERS:
        raise Problem(403, "Forbidden", "a volunteer reads only the cases they help with")
    if unit is not None and not can_see(actor, unit):
        raise Problem(404, "Not found", f"unit {unit} is not among your units")
    return [unit] if unit else (None if actor.role in READ_ALL else [actor.unit])


def report_unit(ctx: ServiceContext, actor: Actor, unit: str | None, *, known: bool) -> str:
    """Return the unit a report covers (the caller's own by default), if the caller sees it.

    With `known`, a unit the ledger does not know is refused first (422).
    """
    no_admin(actor)
    unit = unit or actor.unit
    if known and ctx.units.get(unit) is None:
        raise Problem(422, "Unknown unit", f"there is no unit {unit!r}")
    if not can_see(actor, unit):
        raise Problem(404, "Not found", f"unit {unit} is not among your units")
    return unit


def case_view(row: Any) -> dict[str, Any]:
    """Render a read-model row as the case's JSON view."""
    view: dict[str, Any] = {"case_id": row["case_id"], "version": row["version"]}
    view.update(json.loads(row["state"]))
    view["updated_at"] = row["updated_at"]
    view["correlation_id"] = row["correlation_id"]
    if row["quarantined"]:
        # An event of the case could not be applied: the state shown stops before it.
        view["quarantined"] = json.loads(row["quarantined"])
    return view


def reveal(sealer: Sealer, value: Any) -> Any:
    """Open a sealed text (`[erased]` once its key is gone); text written in clear stays as is."""
    if _sealed(value):
        return sealer.open(Sealed.model_validate(value))
    return value


def revealed(sealer: Sealer, view: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Return a case view with its sealed free-text fields opened."""
    return {**view, **{f: reveal(sealer, view[f]) for f in fields if f in view}}


def opened(sealer: Sealer, data: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Return the named fields of a payload or state that are sealed, opened."""
    return {f: reveal(sealer, data[f]) for f in fields if _sealed(data.get(f))}


def sealing_key(row: Any) -> str:
    """The key that seals a case's free text: its person's, or the case's own if anonymous."""
    person = json.loads(row["state"]).get("person_id")
    return str(person or f"CASE-{row['case_id']}")


def listing(
    ctx: ServiceContext,
    actor: Actor,
    unit: str | None,
    filters: dict[str, Any],
    limit: int,
    offset: int,
    *,
    view: Callable[[Any], dict[str, Any]] = case_view,
    at_most: Mapping[str, Any] | None = None,
    order_by: str | None = None,
) -> dict[str, Any]:
    """Return one page of the cases in the caller's reach that match the filters."""
    no_admin(actor)
    scope = list_scope(actor, unit)
    total, rows = ctx.model.query(
        units=scope,
        filters=filters,
        at_most=at_most,
        order_by=order_by,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "limit": limit, "offset": offset, "items": [view(r) for r in rows]}


def history(
    ctx: ServiceContext,
    actor: Actor,
    case_id: str,
    *,
    prefix: str | None = None,
    guard: Guard | None = None,
    texts: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Return a case's events, oldest first, as recorded, unless `guard` refuses them.

    Each event's sealed `texts` are also given opened, beside the payload as recorded.
    """
    row = row_to_read(ctx, actor, case_id, prefix=prefix)
    if guard is not None:
        guard(actor, row)
    events = ctx.model.history(case_id)
    for event in events:
        texts_opened = opened(ctx.sealer, event.get("payload") or {}, texts)
        if texts_opened:
            event["opened"] = texts_opened
    return {"case_id": case_id, "events": events}


def _sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {"kid", "nonce", "ct"}


def history_route(
    router: APIRouter,
    name: str,
    description: str,
    *,
    prefix: str | None = None,
    guard: Guard | None = None,
    texts: tuple[str, ...] = (),
) -> None:
    """Add GET {case_id}/history, the events of one case as recorded, to a case router.

    `texts` name the payload fields every reader of the history also gets opened.
    """

    async def events(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
        return history(ctx, actor, case_id, prefix=prefix, guard=guard, texts=texts)

    router.add_api_route(
        "/{case_id}/history", events, methods=["GET"], name=name, description=description
    )
