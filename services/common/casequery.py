"""The SQL of a listing of cases: unit subtrees, state filters, bounds and order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.common.dialects import SQLITE
from services.common.store import Row, Store

# Filters on a case row's own columns; any other names a field of its state.
COLUMNS = ("status", "unit", "correlation_id")
# The rows up to which a page of one unit's listing is read in parts (see `parts`).
SHALLOW = 1000


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


def parts(
    store: Store,
    units: Sequence[str] | None,
    filters: Mapping[str, Any],
    at_most: Mapping[str, Any] | None,
) -> list[tuple[str, list[Any]]] | None:
    """Return one unit's listing as two disjoint WHERE clauses, the unit's and its subtree's.

    Each part is read in order from the unit index, where the two together (an OR) make the
    store read and sort every case of the unit. None when the listing is not of one unit, or
    is filtered too (another index may then serve it better).
    """
    chosen = [v for v in (*filters.values(), *(at_most or {}).values()) if v is not None]
    if units is None or len(units) != 1 or chosen:
        return None
    unit = units[0]
    rest, args = where(store, None, filters, at_most)
    more = rest.replace(" WHERE ", " AND ", 1)
    if store.dialect == SQLITE:
        # SQLite compares text by its bytes: the units below `u` are those from "u/" to "u0".
        below, below_args = "unit >= ? AND unit < ?", [f"{unit}/", f"{unit}0"]
    else:
        below, below_args = "unit LIKE ? ESCAPE '\\'", [like_prefix(unit)]
    return [
        (f" WHERE unit = ?{more}", [unit, *args]),
        (f" WHERE {below}{more}", [*below_args, *args]),
    ]


def page(
    store: Store,
    split: list[tuple[str, list[Any]]],
    order: str,
    column: str,
    limit: int,
    offset: int,
) -> tuple[int, list[Row]]:
    """Return (total, page) of a listing read in disjoint parts, each cut to the page first."""
    total = sum(int(store.read(f"SELECT count(*) FROM cases{w}", a)[0][0]) for w, a in split)
    sql = " UNION ALL ".join(
        f"SELECT * FROM (SELECT *, {column} FROM cases{w} ORDER BY {order} LIMIT ?) AS part{n}"
        for n, (w, _) in enumerate(split)
    )
    args = [x for _, a in split for x in [*a, limit + offset]]
    rows = store.read(
        f"SELECT * FROM ({sql}) AS listed ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return total, rows


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
