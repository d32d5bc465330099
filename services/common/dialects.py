"""The SQL the services write (SQLite's) as PostgreSQL spells it: JSON paths, marks, values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# A table's columns and their declared types, in order.
COLUMNS = {
    SQLITE: "SELECT name, type FROM pragma_table_info(?)",
    POSTGRESQL: "SELECT column_name, data_type FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
}
_TEXT = ("text", "character varying", "character")


def adapt(dialect: str, args: Sequence[Any]) -> tuple[Any, ...]:
    """Return arguments as the store takes them: booleans are integers, as in SQLite."""
    if dialect != POSTGRESQL:
        return tuple(args)
    return tuple(int(a) if isinstance(a, bool) else a for a in args)


def total_order(dialect: str, columns: Sequence[tuple[str, str]]) -> str:
    """Return an ORDER BY list over every column that sorts rows alike on either store.

    Text sorts by code point and NULL first, as SQLite sorts them, whatever the server's
    locale.
    """
    if dialect != POSTGRESQL:
        return ", ".join(f'"{name}"' for name, _ in columns)
    terms = []
    for name, kind in columns:
        collate = ' COLLATE "C"' if kind.lower() in _TEXT else ""
        terms.append(f'"{name}"{collate} NULLS FIRST')
    return ", ".join(terms)


@lru_cache(maxsize=512)
def translate(dialect: str, sql: str) -> str:
    """Return a statement in the store's dialect."""
    if dialect != POSTGRESQL:
        return sql
    for pattern, replacement in _REWRITES:
        sql = pattern.sub(replacement, sql)
    return _marks(sql)


def _array(column: str, field: str) -> str:
    value = f"(CAST({column} AS jsonb) -> '{field}')"
    return f"(CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} ELSE '[]'::jsonb END)"


_PATH = r"\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)"
_REWRITES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"\bjson_extract" + _PATH), r"(CAST(\1 AS jsonb) ->> '\2')"),
    (
        re.compile(r"\bjson_array_length" + _PATH),
        lambda m: f"jsonb_array_length({_array(m[1], m[2])})",
    ),
    (
        re.compile(r"\bjson_each" + _PATH),
        lambda m: f"jsonb_array_elements_text({_array(m[1], m[2])}) AS json_each(value)",
    ),
    (re.compile(r"\binstr\("), "strpos("),
    (re.compile(r"\bjson_object\("), "json_build_object("),
    (re.compile(r"\bjson_array\("), "json_build_array("),
]


def _marks(sql: str) -> str:
    """Turn `?` outside quotes into the driver's `%s`, doubling every literal percent sign."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if ch == "%":
            out.append("%%")
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append(ch)
    return "".join(out)
