"""Cases a read model set aside: the first event it could not apply, kept with its offsets."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from services.common.isolation import position, reason_of

# The quarantine of the row's case as JSON, or NULL: spliced into a SELECT over `cases`.
COLUMN = (
    "(SELECT json_object('reason', q.reason, 'position', json_array(q.topic, q.partition,"
    ' q."offset")) FROM quarantined q WHERE q.case_id = cases.case_id) AS quarantined'
)
# Failures of the database itself, not of the event: the batch is tried again instead.
ENVIRONMENT = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_NOMEM",
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
)


def held(db: sqlite3.Connection, case_id: str) -> str | None:
    """Return why a case is quarantined, naming its first failure, or None if it is not."""
    row = db.execute(
        'SELECT reason, topic, partition, "offset" FROM quarantined WHERE case_id = ?', (case_id,)
    ).fetchone()
    if row is None:
        return None
    return f"{case_id} is quarantined since {position(row[1], row[2], row[3])}: {row[0]}"


class Tripped(Exception):
    """An event could not be applied on the fast path: the batch is to be applied carefully."""


def attempt(
    db: sqlite3.Connection,
    case_id: str,
    where: tuple[str, int, int],
    apply: Callable[[], None],
    *,
    careful: bool,
) -> str | None:
    """Apply one event of a case, or undo what it wrote and quarantine the case; say why.

    Without `careful` nothing can be undone alone, so a failure raises Tripped instead. The
    caller's transaction stays open either way, so the offset is stored with the outcome.
    """
    if careful:
        db.execute("SAVEPOINT event")
    try:
        apply()
    except Exception as exc:
        if isinstance(exc, MemoryError) or _environment(exc):
            raise
        if not careful:
            raise Tripped from exc
        db.execute("ROLLBACK TO event")
        db.execute("RELEASE event")
        reason = f"cannot apply: {reason_of(exc)}"
        db.execute(
            'INSERT OR IGNORE INTO quarantined (case_id, reason, topic, partition, "offset")'
            " VALUES (?, ?, ?, ?, ?)",
            (case_id, reason, *where),
        )
        return reason
    if careful:
        db.execute("RELEASE event")
    return None


def count(db: sqlite3.Connection) -> int:
    """Return how many cases are quarantined."""
    return int(db.execute("SELECT count(*) FROM quarantined").fetchone()[0])


def _environment(exc: Exception) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return isinstance(exc, sqlite3.Error) and str(name).startswith(ENVIRONMENT)
