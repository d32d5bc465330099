"""The SQL of a listing of cases: unit subtrees, state filters, bounds and order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.common.store import Store

# Filters on a case row's own columns; any other names a field of its state.
COLUMNS = ("status", "unit", "correlation_id")


def where(
    store: Store,
    units: Sequence[str] | None,
    filters: Mapping[str, Any],
    at_most: Mapping[str, Any] | None,
) -> tuple[str, list[Any]]:
    """Return the WHERE clause (or nothing) and its arguments for a listing of cases."""
    clauses: list[str] = []
    args: list[Any] = []
    if units is not None:
        subtrees = []
        for unit in units:
            subtrees.append("(unit = ? OR unit LIKE ? ESCAPE '\\')")
            args += [unit, like_prefix(unit)]
        clauses.append("(" + " OR ".join(subtrees or ["1 = 0"]) + ")")
    for key, value in filters.items():
        if value is None:
            continue
        if key in COLUMNS:
            clauses.append(f"{key} = ?")
        elif key == "opened_from":
            clauses.append("opened_at >= ?")
        elif key == "opened_to":
            clauses.append("opened_at < ?")
        elif key == "overdue":
            clauses.append(
                "(CASE WHEN json_array_length(state, '$.overdue') > 0 THEN 1 ELSE 0 END) = ?"
            )
            value = int(bool(value))
        else:
            clauses.append(f"json_extract(state, '$.{field(key)}') = ?")
            value = store.json_value(value)
        args.append(value)
    for key, value in (at_most or {}).items():
        if value is None:
            continue
        clauses.append(f"json_extract(state, '$.{field(key)}') <= ?")
        args.append(store.json_value(value))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def order(order_by: str | None) -> str:
    """Newest first; or ascending by a state field, cases without it last."""
    if order_by is None:
        return "opened_at DESC, case_id"
    value = f"json_extract(state, '$.{field(order_by)}')"
    return f"{value} IS NULL, {value}, case_id"


def field(name: str) -> str:
    """Return a state field name fit to splice into a JSON path, or refuse it."""
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"not a state field name: {name!r}")
    return name


def like_prefix(unit: str) -> str:
    """The LIKE pattern of the units below one."""
    escaped = unit.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"
