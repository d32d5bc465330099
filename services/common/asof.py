"""Cases as the ledger knew them at an instant: each folded from its events recorded by then."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from contracts.envelope import format_ts, parse_record
from contracts.registry import REGISTRY
from services.common.bodies import Moment
from services.common.readmodel import ReadModel

# `as_of`: the figures the ledger would have shown at that instant, whatever came after.
AsOf = Annotated[
    Moment | None,
    Query(
        description="An instant with its timezone: count only what the ledger had recorded"
        " by then (events recorded later, even back-dated ones, are left out)"
    ),
]
# The filters a past state can be chosen by: a case's unit and opening never change.
STABLE = frozenset({"opened_from", "opened_to"})
PAGE = 500
# Reports kept per process, each with the read model's position it was counted at.
REPORTS_KEPT = 256


def states_as_of(
    model: ReadModel[Any], *, units: Sequence[str] | None, filters: dict[str, Any], as_of: datetime
) -> list[Any]:
    """Return the state each matching case had at `as_of` (cases opened later are left out)."""
    moving = [k for k, v in filters.items() if v is not None and k not in STABLE]
    if moving:
        raise ValueError(f"a past state cannot be chosen by {', '.join(moving)}")
    out: list[Any] = []
    offset = 0
    while True:
        _, rows = model.query(units=units, filters=filters, limit=PAGE, offset=offset)
        ids = [r["case_id"] for r in rows]
        if ids:
            out += fold_cases(model, ids, as_of)
        if len(rows) < PAGE:
            return out
        offset += PAGE


def fold_cases(model: ReadModel[Any], ids: Sequence[str], as_of: datetime) -> list[Any]:
    """Return the states the given cases had at `as_of`, leaving out those not yet opened."""
    if not ids:
        return []
    cut = format_ts(as_of)
    marks = ",".join("?" * len(ids))
    events = model.select(
        f"SELECT case_id, body FROM events WHERE case_id IN ({marks}) AND recorded_at <= ?"
        " ORDER BY case_id, case_version",
        [*ids, cut],
    )
    states: dict[str, Any] = {}
    versions: dict[str, int] = {}
    for row in events:
        _, env = parse_record(row["body"].encode())
        # A case is as of the cut up to its first event recorded after it: a later version
        # recorded earlier (clocks of two machines) does not count without those before it.
        if env.case_version != versions.get(env.case_id, 0) + 1:
            versions[env.case_id] = -1
            continue
        versions[env.case_id] = env.case_version
        kind = model.kind.of(env.case_id)
        states[env.case_id] = kind.evolve(states.get(env.case_id), env, REGISTRY.read(env))
    return list(states.values())


def instant(as_of: datetime | None) -> str | None:
    """Render an as-of instant as reports state it."""
    return format_ts(as_of) if as_of is not None else None


def report_states(
    model: ReadModel[Any], unit: str, filters: dict[str, Any], as_of: datetime | None
) -> list[Any]:
    """Return the states a report of a unit subtree counts: as they stand, or as of an instant."""
    if as_of is None:
        return model.states(units=[unit], filters=filters)
    return states_as_of(model, units=[unit], filters=filters, as_of=as_of)


# Per read model, gone with it: each report's position and figures.
_reports: weakref.WeakKeyDictionary[ReadModel[Any], dict[Hashable, tuple[Hashable, Any]]] = (
    weakref.WeakKeyDictionary()
)
_reports_lock = threading.Lock()


def report(
    model: ReadModel[Any],
    key: Hashable,
    count: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Return a report's figures, counted again only once the read model has applied more.

    A report reads every case of a unit; while nothing new is applied its figures stand, so
    the same question is answered from what was counted, exactly as counting again would.
    """
    position = tuple(sorted(model.offsets().items()))
    with _reports_lock:
        kept = _reports.setdefault(model, {}).get(key)
    if kept is not None and kept[0] == position:
        figures: dict[str, Any] = kept[1]
        return figures
    figures = count()
    with _reports_lock:
        reports = _reports.setdefault(model, {})
        if len(reports) >= REPORTS_KEPT:
            reports.pop(next(iter(reports)))
        reports[key] = (position, figures)
    return figures
