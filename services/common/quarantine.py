"""Cases a read model set aside: the first event it could not apply, kept with its offsets."""

from __future__ import annotations

from collections.abc import Callable

from services.common.isolation import position, reason_of
from services.common.store import Db, environmental

# The quarantine of the row's case as JSON text, or NULL: spliced into a SELECT over `cases`.
COLUMN = (
    "(SELECT CAST(json_object('reason', q.reason, 'position', json_array(q.topic, q.partition,"
    ' q."offset")) AS TEXT) FROM quarantined q WHERE q.case_id = cases.case_id) AS quarantined'
)


def held(db: Db, case_id: str) -> str | None:
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
    db: Db,
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
    point = db.savepoint() if careful else None
    try:
        apply()
    except Exception as exc:
        if isinstance(exc, MemoryError) or environmental(exc):
            raise
        if point is None:
            raise Tripped from exc
        point.rollback()
        reason = f"cannot apply: {reason_of(exc)}"
        db.execute(
            'INSERT INTO quarantined (case_id, reason, topic, partition, "offset")'
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (case_id, reason, *where),
        )
        return reason
    if point is not None:
        point.commit()
    return None
